"""The 95% bootstrap intervals: against a plain NumPy computation on the same resamples, around the point estimate,
narrower for a larger test set, the same for the same seed."""

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_auroc,
    multiclass_f1_score,
    multilabel_auroc,
    multilabel_average_precision,
    multilabel_exact_match,
)

from inception_tl.evaluation.bootstrap import bootstrap_intervals, resample_counts, resampled_metrics
from inception_tl.evaluation.predictions import Predictions

CPU = torch.device("cpu")


def single_label(n: int, classes: int = 4, seed: int = 0, rounding: int | None = None) -> Predictions:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes))
    logits[np.arange(n), labels] += 1.0
    probabilities = torch.softmax(torch.tensor(logits), 1).numpy().astype(np.float32)
    if rounding is not None:  # ties, as low-precision or saturated outputs give
        probabilities = probabilities.round(rounding)
    return Predictions(probabilities, labels, [""] * n, [f"c{k}" for k in range(classes)])


def multi_label(n: int, labels: int = 3, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, labels)) < 0.4).astype(np.int64)
    scores = 1 / (1 + np.exp(-(rng.normal(size=(n, labels)) + 1.5 * (truth - 0.5))))
    return Predictions(scores.astype(np.float32), truth, [""] * n, [f"l{k}" for k in range(labels)],
                       np.full(labels, 0.5))


def numpy_auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney over every (positive, negative) pair, a tie counted half."""
    pos, neg = scores[positive == 1], scores[positive == 0]
    if len(pos) == 0 or len(neg) == 0:
        return np.nan
    return float(((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean())


def numpy_macro_f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    scores = []
    for k in range(truth.shape[1]):
        tp = np.sum(predicted[:, k] * truth[:, k])
        fp, fn = np.sum(predicted[:, k] * (1 - truth[:, k])), np.sum((1 - predicted[:, k]) * truth[:, k])
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def numpy_intervals(predictions: Predictions, resamples: int, seed: int) -> dict[str, tuple[float, float]]:
    """The resamples drawn as the module draws them, each metric computed on the resampled arrays in NumPy."""
    counts = resample_counts(len(predictions.labels), resamples, seed, CPU).numpy().astype(int)
    classes = predictions.probabilities.shape[1]
    truth = np.eye(classes, dtype=int)[predictions.labels]
    predicted = np.eye(classes, dtype=int)[predictions.probabilities.argmax(1)]
    values = {"acc": [], "f1": [], "auroc": []}
    for row in counts:
        index = np.repeat(np.arange(len(row)), row)
        values["acc"].append(np.mean(predicted[index].argmax(1) == predictions.labels[index]))
        values["f1"].append(numpy_macro_f1(predicted[index], truth[index]))
        aurocs = [numpy_auroc(predictions.probabilities[index, k], truth[index, k]) for k in range(classes)]
        values["auroc"].append(np.nanmean(aurocs))
    return {name: tuple(np.quantile(found, [0.025, 0.975])) for name, found in values.items()}


@pytest.mark.parametrize("rounding", [None, 2])
def test_intervals_equal_a_numpy_computation_on_the_same_resamples(rounding):
    predictions = single_label(120, rounding=rounding)
    found = bootstrap_intervals(predictions, resamples=200, seed=3, device=CPU)
    expected = numpy_intervals(predictions, resamples=200, seed=3)
    for name in ("acc", "f1", "auroc"):
        assert (found[name].low, found[name].high) == pytest.approx(expected[name], abs=1e-6), name


def test_every_image_drawn_once_gives_torchmetrics_point_estimates():
    """The weighted formulas at weight 1 are the metrics the run reports (ties included)."""
    predictions = single_label(300, rounding=2)
    metrics = resampled_metrics(predictions, torch.ones(1, 300))
    scores, labels = torch.tensor(predictions.probabilities), torch.tensor(predictions.labels)
    assert metrics["acc"].item() == pytest.approx(multiclass_accuracy(scores, labels, 4, average="micro").item())
    assert metrics["f1"].item() == pytest.approx(multiclass_f1_score(scores, labels, 4, average="macro").item())
    assert metrics["auroc"].item() == pytest.approx(multiclass_auroc(scores, labels, 4, average="macro").item())
    multi = multi_label(300)
    metrics = resampled_metrics(multi, torch.ones(1, 300))
    scores, truth = torch.tensor(multi.probabilities), torch.tensor(multi.labels)
    assert metrics["acc"].item() == pytest.approx(multilabel_exact_match(scores, truth, 3).item())
    assert metrics["auroc"].item() == pytest.approx(multilabel_auroc(scores, truth, 3, average="macro").item())
    assert metrics["map"].item() == pytest.approx(
        multilabel_average_precision(scores, truth, 3, average="macro").item(), abs=1e-6
    )


@pytest.mark.parametrize("make", [single_label, multi_label])
def test_the_interval_holds_the_point_estimate_and_narrows_as_the_test_set_grows(make):
    widths = []
    for n in (100, 1600):
        predictions = make(n)
        point = resampled_metrics(predictions, torch.ones(1, n))
        intervals = bootstrap_intervals(predictions, device=CPU)
        for name, interval in intervals.items():
            assert interval.low <= point[name].item() <= interval.high, (name, n)
        widths.append(intervals["acc"].high - intervals["acc"].low)
    assert widths[1] < widths[0] / 2  # sixteen times the images: about a quarter of the width


def test_the_same_seed_gives_the_same_interval_and_another_seed_another():
    predictions = single_label(200)
    first = bootstrap_intervals(predictions, seed=7, device=CPU)
    again = bootstrap_intervals(predictions, seed=7, device=CPU)
    other = bootstrap_intervals(predictions, seed=8, device=CPU)
    assert first == again
    assert first != other
