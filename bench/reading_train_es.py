"""Train the Spanish danger model: a logistic regression over the hashed words, word pairs and
letter pieces of a text (messaging.reading.features_es), on the Spanish texts in TRAINING.
Writes messaging/reading_model_es.json, which messaging.reading loads.

The threshold is chosen by 5-fold cross-validation, three times over: the lowest score at which at
most --false-alarms of the held-out folds' ordinary texts are flagged. Texts below it but at or
above the worry floor (--worry-false-alarms of ordinary texts) are "not plainly ordinary": the
auto-reply gives 988 and 911 again. A second head reads which danger texts are an emergency now
(911 first). The newest held-out set (tests/data/es/validation8/) is never trained on: it is how
the model is judged (bench/reading_bench.py, docs/messaging.md).

    .venv/bin/python bench/reading_train_es.py [--false-alarms 0.03] [--l2 1e-5]
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

from bench.reading_bench import DATA_ES, corpus, lines  # noqa: E402
from messaging.reading import BUCKETS_ES, MODEL_ES_FEWEST_WORDS, MODEL_ES_FILE, features_es, normalize_es  # noqa: E402

# The Spanish texts the model learns from: the development corpus, a training corpus of hard cases
# (tests/data/es/train/), and the held-out sets already measured and read.
TRAINING = ("", "train", *(f"validation{n}" if n > 1 else "validation" for n in range(1, 8)))


def labelled() -> tuple[list[str], np.ndarray, dict[str, int]]:
    """Texts, their kinds (danger, emergency, ordinary, optout, not_optout) and counts by set."""
    texts: list[str] = []
    kinds: list[str] = []
    counts = {}
    for name in TRAINING:
        root = DATA_ES / name if name else DATA_ES
        if name == "train":
            sets = {kind: lines(root / f"{kind}.txt") for kind in ("danger", "emergency", "ordinary")}
        else:
            sets = corpus(root)
        for kind, group in sets.items():
            texts += group
            kinds += [kind] * len(group)
        counts[name or "es"] = sum(len(group) for group in sets.values())
    return texts, np.array(kinds), counts


class Sparse:
    """Rows of features_es as flat arrays, for the few products training needs."""

    def __init__(self, rows: list[dict[int, float]]):
        self.slots = np.concatenate([np.fromiter(r.keys(), dtype=np.int64, count=len(r)) for r in rows])
        self.values = np.concatenate([np.fromiter(r.values(), dtype=np.float64, count=len(r)) for r in rows])
        self.lengths = np.array([len(r) for r in rows])
        self.ends = np.cumsum(self.lengths)

    def take(self, mask: np.ndarray) -> Sparse:
        rows = np.flatnonzero(mask)
        starts = self.ends - self.lengths
        picked = Sparse.__new__(Sparse)
        index = np.concatenate([np.arange(starts[r], self.ends[r]) for r in rows])
        picked.slots, picked.values = self.slots[index], self.values[index]
        picked.lengths = self.lengths[rows]
        picked.ends = np.cumsum(picked.lengths)
        return picked

    def dot(self, w: np.ndarray) -> np.ndarray:
        total = np.concatenate([[0.0], np.cumsum(self.values * w[self.slots])])
        return total[self.ends] - total[self.ends - self.lengths]

    def dot_t(self, g: np.ndarray) -> np.ndarray:
        return np.bincount(self.slots, weights=self.values * np.repeat(g, self.lengths), minlength=BUCKETS_ES)


def fit(x: Sparse, y: np.ndarray, *, l2: float, iterations: int = 600, rate: float = 0.05) -> tuple[np.ndarray, float]:
    """Class-balanced, L2-regularised logistic regression by full-batch Adam (deterministic)."""
    w, b = np.zeros(BUCKETS_ES), 0.0
    balance = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean())) / len(y)
    m, v, mb, vb = np.zeros(BUCKETS_ES), np.zeros(BUCKETS_ES), 0.0, 0.0
    for t in range(1, iterations + 1):
        g = balance * (1 / (1 + np.exp(-(x.dot(w) + b))) - y)
        gw, gb = x.dot_t(g) + l2 * w, g.sum()
        m, v = 0.9 * m + 0.1 * gw, 0.999 * v + 0.001 * gw * gw
        mb, vb = 0.9 * mb + 0.1 * gb, 0.999 * vb + 0.001 * gb * gb
        w -= rate * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        b -= rate * (mb / (1 - 0.9**t)) / (np.sqrt(vb / (1 - 0.999**t)) + 1e-8)
    return w, float(b)


def scores(x: Sparse, w: np.ndarray, b: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(x.dot(w) + b)))


def cut(ordinary_scores: np.ndarray, false_alarms: float) -> float:
    """The lowest score that flags at most `false_alarms` of these ordinary texts."""
    ranked = np.sort(ordinary_scores)
    return float(ranked[int(np.ceil(len(ranked) * (1 - false_alarms))) - 1]) + 1e-6


def cross_validated(x: Sparse, y: np.ndarray, *, l2: float) -> np.ndarray:
    """Each text's score from models that did not see it: 5 folds, three times over, averaged."""
    held_out = np.zeros(len(y))
    for seed in range(3):
        folds = np.random.default_rng(seed).permutation(len(y)) % 5
        for fold in range(5):
            w, b = fit(x.take(folds != fold), y[folds != fold], l2=l2)
            held_out[folds == fold] += scores(x.take(folds == fold), w, b) / 3
    return held_out


def head(x: Sparse, y: np.ndarray, *, l2: float) -> dict:
    w, b = fit(x, y, l2=l2)
    kept = {int(slot): round(float(w[slot]), 5) for slot in np.flatnonzero(np.abs(w) >= 5e-5)}
    return {"intercept": round(b, 6), "weights": {str(slot): weight for slot, weight in sorted(kept.items())}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--false-alarms", type=float, default=0.03)
    parser.add_argument("--worry-false-alarms", type=float, default=0.25)
    parser.add_argument("--danger-as-emergency", type=float, default=0.05)
    parser.add_argument("--l2", type=float, default=1e-5)
    args = parser.parse_args()
    texts, kinds, counts = labelled()
    x = Sparse([features_es(text) for text in texts])
    # As messaging.reading scores them: a text of too few words is not read by the model.
    short = np.array([len(normalize_es(text).split()) < MODEL_ES_FEWEST_WORDS for text in texts])
    y = np.isin(kinds, ("danger", "emergency")).astype(np.float64)
    ordinary = kinds == "ordinary"
    held_out = cross_validated(x, y, l2=args.l2)
    held_out[short] = 0.0
    threshold = cut(held_out[ordinary], args.false_alarms)
    worry_floor = min(threshold, cut(held_out[ordinary], args.worry_false_alarms))
    recall = float((held_out[y == 1] >= threshold).mean())
    worry = float((held_out[y == 1] >= worry_floor).mean())
    # The second head: of the texts read as danger, which are an emergency now (911 first)? Its
    # threshold lets at most --danger-as-emergency of the other danger texts be answered 911 first.
    y_now = (kinds == "emergency").astype(np.float64)
    held_out_now = cross_validated(x, y_now, l2=args.l2)
    threshold_now = cut(held_out_now[kinds == "danger"], args.danger_as_emergency)
    recall_now = float((held_out_now[y_now == 1] >= threshold_now).mean())
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    model = {
        "about": "Spanish danger model: logistic regressions over messaging.reading.features_es; "
        "written by bench/reading_train_es.py.",
        "buckets": BUCKETS_ES,
        "trained_on": {"texts": len(texts), "danger": int(y.sum()), "sets": counts, "corpus_sha256": digest},
        "l2": args.l2,
        "threshold": round(threshold, 6),
        "worry_floor": round(worry_floor, 6),
        "cross_validated": {
            "danger_recall": round(recall, 4),
            "false_alarms_on_ordinary": args.false_alarms,
            "danger_at_worry_floor": round(worry, 4),
            "ordinary_at_worry_floor": args.worry_false_alarms,
            "emergencies_911_first": round(recall_now, 4),
            "danger_read_as_emergency": args.danger_as_emergency,
        },
        **head(x, y, l2=args.l2),
        "emergency": {"threshold": round(threshold_now, 6), **head(x, y_now, l2=args.l2)},
    }
    MODEL_ES_FILE.write_text(json.dumps(model, separators=(",", ":")) + "\n")
    print(f"{len(texts)} texts ({int(y.sum())} danger, {int(y_now.sum())} of them emergencies) from {counts}")
    print(f"threshold {threshold:.3f}: cross-validated, the model alone catches {recall:.1%} of danger")
    print(f"   at {args.false_alarms:.0%} false alarms on ordinary texts")
    print(f"worry floor {worry_floor:.3f}: {worry:.1%} of danger, {args.worry_false_alarms:.0%} of ordinary")
    print(f"emergency head {threshold_now:.3f}: {recall_now:.1%} of emergencies 911 first,")
    print(f"   {args.danger_as_emergency:.0%} of other danger texts too")
    print(f"wrote {MODEL_ES_FILE.relative_to(ROOT)} ({MODEL_ES_FILE.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
