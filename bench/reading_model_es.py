"""Does a learned model help read Spanish? Measures, on the Spanish development corpus
(tests/data/es/crisis and optout; never tests/data/es/validation*):

1. the English danger model (messaging/reading_model.json, all-MiniLM-L6-v2 embeddings) on Spanish
   texts: how many danger and ordinary texts it flags at its threshold, and how many it would let
   through the weak floor;
2. a logistic regression trained on the Spanish development texts over the same embeddings
   (bench/reading_train.fit), 5-fold cross-validated three times: what it adds to the rules, i.e.
   danger texts the rules miss that it flags, and ordinary texts the rules leave alone that it flags.

It writes no model: messaging.reading uses one only if this shows it helps without raising false
alarms (docs/messaging.md has the figures and the decision).

    .venv/bin/python bench/reading_model_es.py [--c 4] [--false-alarms 0.02]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.reading_bench import DATA_ES, corpus  # noqa: E402
from bench.reading_train import fit, scores  # noqa: E402
from messaging.embedding import encoder  # noqa: E402
from messaging.reading import _model, model_text, read_text, rules  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--c", type=float, default=4.0)
    parser.add_argument("--false-alarms", type=float, default=0.02)
    args = parser.parse_args()
    sets = corpus(DATA_ES)  # the development corpus only
    texts = [text for group in sets.values() for text in group]
    y = np.array([1 if name in ("danger", "emergency") else 0 for name, group in sets.items() for _ in group])
    ordinary = np.array([name == "ordinary" for name, group in sets.items() for _ in group])
    x = encoder().encode([model_text(text) for text in texts])
    coef, intercept, threshold = _model()
    english = scores(x, coef, intercept)
    floor = rules().weak_floor
    print(f"English model on {len(texts)} Spanish texts (threshold {threshold:.3f}, weak floor {floor}):")
    flagged, false = np.mean(english[y == 1] >= threshold), np.mean(english[ordinary] >= threshold)
    print(f"   flags {flagged:.1%} of danger, {false:.1%} of ordinary")
    print(f"   reads {np.mean(english[y == 1] < floor):.1%} of danger texts as plainly ordinary (below the floor)")

    held_out = np.zeros(len(texts))
    for seed in range(3):
        folds = np.random.default_rng(seed).permutation(len(texts)) % 5
        for fold in range(5):
            c, b = fit(x[folds != fold], y[folds != fold], c=args.c)
            held_out[folds == fold] += scores(x[folds == fold], c, b) / 3
    ordinary_scores = np.sort(held_out[ordinary])
    cut = float(ordinary_scores[int(np.ceil(len(ordinary_scores) * (1 - args.false_alarms))) - 1]) + 1e-6
    by_rules = np.array([read_text(text).danger for text in texts])
    print(f"Spanish logistic regression, cross-validated (c={args.c}, {args.false_alarms:.0%} false alarms):")
    print(f"   alone: {np.mean(held_out[y == 1] >= cut):.1%} of danger")
    added = (held_out >= cut) & ~by_rules
    print(f"   adds to the rules: {int((added & (y == 1)).sum())} danger texts the rules miss,")
    false_alarms, alone = int((added & ordinary).sum()), int(ordinary.sum())
    print(f"   and {false_alarms} false alarms on {alone} ordinary texts the rules leave alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
