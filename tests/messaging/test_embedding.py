"""The numpy encoder computes what sentence-transformers computes for all-MiniLM-L6-v2."""

import json
from pathlib import Path

import numpy as np

from messaging.embedding import encoder

REFERENCE = json.loads((Path(__file__).parents[1] / "data" / "embedding_reference.json").read_text())


def test_vectors_match_sentence_transformers():
    vectors = encoder().encode(REFERENCE["texts"])
    assert np.abs(vectors - np.array(REFERENCE["vectors"])).max() < 1e-5


def test_similar_meanings_are_closer_than_shared_words():
    dying_phone, wants_to_die, thanks, not_breathing = encoder().encode(REFERENCE["texts"])
    assert wants_to_die @ not_breathing > wants_to_die @ thanks
    assert abs(float(np.linalg.norm(dying_phone)) - 1) < 1e-5


def test_a_text_longer_than_the_model_reads_is_cut_not_refused():
    assert encoder().encode_one("word " * 2000).shape == (384,)
