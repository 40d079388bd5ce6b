"""Multi-label decision thresholds: for each label, the probability above which it is predicted, chosen on the
validation split to maximise that label's F1.

For a label, predicting the k most probable images positive scores F1 = 2 TP_k / (k + positives); the best k
is found in one pass over the sorted probabilities, and the threshold sits halfway between the k-th and the
next probability (a margin on both sides, rather than exactly on a validation image's score).
"""

from __future__ import annotations

import numpy as np

# A label's decision threshold until validation chooses one, and where there is nothing to choose from: the plain
# sigmoid's.
DEFAULT_THRESHOLD = 0.5
# Kept inside (0, 1): the model stores each threshold as its logit.
LIMITS = (1e-6, 1 - 1e-6)


def label_threshold(probabilities: np.ndarray, positives: np.ndarray) -> float:
    """The F1-maximising threshold of one label (ties: the fewest images predicted positive)."""
    total = int(positives.sum())
    if total == 0 or total == len(positives):  # nothing to choose from: the plain sigmoid's
        return DEFAULT_THRESHOLD
    order = np.argsort(-probabilities, kind="stable")
    ranked, hits = probabilities[order], positives[order].astype(np.int64)
    true_positives = np.cumsum(hits)
    f1 = 2 * true_positives / (np.arange(1, len(ranked) + 1) + total)
    # Only cut where the next probability is lower: within a tie every image is on the same side.
    cuttable = np.append(ranked[:-1] > ranked[1:], True)
    best = int(np.flatnonzero(cuttable)[np.argmax(f1[cuttable])])
    below = ranked[best + 1] if best + 1 < len(ranked) else 0.0
    return float(np.clip((ranked[best] + below) / 2, *LIMITS))


def choose_thresholds(probabilities: np.ndarray, labels: np.ndarray) -> list[float]:
    """Each label's threshold from the validation split's per-label `probabilities` and multi-hot `labels`."""
    return [label_threshold(probabilities[:, k], labels[:, k] > 0) for k in range(probabilities.shape[1])]
