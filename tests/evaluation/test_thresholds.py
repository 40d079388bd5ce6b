"""Multi-label thresholds: each label's maximises its F1 on the given predictions, halfway to the next score;
labels without positives or negatives keep 0.5; `balanced` positive weights are negatives over positives."""

import numpy as np
import pytest

from inception_tl.models.loss import positive_weights
from inception_tl.models.thresholds import choose_thresholds, label_threshold


def f1_at(threshold, probabilities, positives):
    predicted = probabilities >= threshold
    hits = (predicted & positives).sum()
    return 2 * hits / (predicted.sum() + positives.sum())


def test_the_threshold_maximises_f1_halfway_between_two_scores():
    probabilities = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2])
    positives = np.array([True, True, False, True, False, True, False])
    threshold = label_threshold(probabilities, positives)
    assert threshold == pytest.approx(0.25)  # the top 6: 4 hits of 4 positives, F1 = 8 / 10
    best = max(f1_at(t, probabilities, positives) for t in np.linspace(0.01, 0.99, 99))
    assert f1_at(threshold, probabilities, positives) == pytest.approx(best)


def test_ties_stay_on_one_side_and_labels_without_both_kinds_keep_one_half():
    probabilities = np.array([0.9, 0.5, 0.5, 0.1])
    positives = np.array([True, True, False, False])
    # Both 0.5s positive: F1 0.8, above the top one alone (0.67); never one 0.5 on each side.
    assert label_threshold(probabilities, positives) == pytest.approx(0.3)
    both = np.column_stack([probabilities, probabilities, probabilities])
    labels = np.column_stack([positives, np.zeros(4), np.ones(4)])
    assert choose_thresholds(both, labels)[1:] == [0.5, 0.5]


def test_balanced_positive_weights_are_negatives_over_positives():
    counts = {"cat": 10, "dog": 30}
    assert positive_weights("balanced", counts, 40, ["cat", "dog"]) == [3.0, pytest.approx(1 / 3)]
    assert positive_weights([2, 1], counts, 40, ["cat", "dog"]) == [2.0, 1.0]
    with pytest.raises(Exception, match=r"on no image or on every image"):
        positive_weights("balanced", {"cat": 40, "dog": 3}, 40, ["cat", "dog"])
