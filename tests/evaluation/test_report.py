"""The report's numbers agree with an independent computation; its files are real, non-trivial images."""

import csv
import json

import numpy as np
import pytest
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from inception_tl.evaluation.predictions import Predictions
from inception_tl.evaluation.report import most_confident_mistakes, per_class_rows, reliability
from inception_tl.evaluation.writer import confusion_counts, write_report
from tests.helpers import write_image_tree

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def random_predictions(num_classes: int, count: int = 60, seed: int = 0, paths=None) -> Predictions:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, count)
    logits = rng.normal(size=(count, num_classes)) + 1.5 * np.eye(num_classes)[labels]  # better than chance
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    paths = paths or [f"image-{index}.png" for index in range(count)]
    return Predictions(probabilities.astype(np.float32), labels, paths, [f"class{c}" for c in range(num_classes)])


def independent_scores(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> dict:
    """Precision, recall, F1 per class from counts of true/false positives (0 where undefined)."""
    scores = {}
    for c in range(num_classes):
        tp = np.sum((predicted == c) & (labels == c))
        fp = np.sum((predicted == c) & (labels != c))
        fn = np.sum((predicted != c) & (labels == c))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[c] = (precision, recall, f1, int(np.sum(labels == c)))
    return scores


@pytest.mark.parametrize("num_classes", [2, 5])
def test_per_class_rows_equal_an_independent_computation(num_classes):
    predictions = random_predictions(num_classes)
    rows = {row["class"]: row for row in per_class_rows(predictions)}
    scores = independent_scores(predictions.labels, predictions.predicted, num_classes)
    support = np.array([scores[c][3] for c in range(num_classes)])
    for c, (precision, recall, f1, count) in scores.items():
        row = rows[f"class{c}"]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((precision, recall, f1), abs=1e-6)
        assert row["support"] == count
    for index, key in enumerate(("precision", "recall", "f1")):
        values = np.array([scores[c][index] for c in range(num_classes)])
        assert rows["macro avg"][key] == pytest.approx(values.mean(), abs=1e-6)
        assert rows["weighted avg"][key] == pytest.approx((values * support).sum() / support.sum(), abs=1e-6)
    accuracy = np.mean(predictions.labels == predictions.predicted)
    assert rows["accuracy"]["f1"] == pytest.approx(accuracy, abs=1e-6)


def test_expected_calibration_error_is_the_weighted_gap_between_confidence_and_accuracy():
    predictions = random_predictions(3, count=200)
    bins = reliability(predictions)
    filled = bins.counts > 0
    gap = np.abs(bins.confidence[filled] - bins.accuracy[filled])
    assert bins.ece == pytest.approx(float((gap * bins.counts[filled]).sum() / bins.counts.sum()), abs=1e-5)


def test_mistakes_are_wrong_and_most_confident_first():
    predictions = random_predictions(3, count=100)
    mistakes = most_confident_mistakes(predictions, count=10)
    assert len(mistakes) == 10
    assert all(predictions.predicted[i] != predictions.labels[i] for i in mistakes)
    confidences = predictions.confidence[mistakes]
    assert list(confidences) == sorted(confidences, reverse=True)
    wrong = predictions.predicted != predictions.labels
    assert confidences[0] == predictions.confidence[wrong].max()


def test_the_report_writes_tables_and_images_and_hands_them_to_tensorboard(tmp_path):
    root = write_image_tree(tmp_path / "images", {"test": {"cat": 12, "dog": 12}})
    paths = sorted(str(p) for p in (root / "test").rglob("*.png"))
    predictions = random_predictions(2, count=len(paths), paths=paths)
    history = [
        {"epoch": e, "train/loss": 1 / (e + 1), "val/loss": 1.2 / (e + 1), "phase": int(e >= 2)} for e in range(4)
    ]
    logger = TensorBoardLogger(tmp_path / "tb")
    summary = write_report(tmp_path / "report", predictions, "test", history, [logger])

    report = tmp_path / "report"
    for name in ("confusion_matrix", "curves", "roc", "reliability", "mistakes"):
        data = (report / f"{name}.png").read_bytes()
        assert data.startswith(PNG_SIGNATURE), name
        assert len(data) > 10_000, name
    with open(report / "per_class.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["class"] for row in rows] == ["class0", "class1", "macro avg", "weighted avg", "accuracy"]
    assert json.loads((report / "per_class.json").read_text()) == json.loads(json.dumps(summary))
    assert summary["auroc"] is not None
    with open(report / "predictions.csv") as handle:
        assert len(list(csv.DictReader(handle))) == len(paths)
    assert confusion_counts(predictions).sum() == len(paths)

    events = EventAccumulator(str(next((tmp_path / "tb").rglob("events.*"))))
    events.Reload()
    assert set(events.Tags()["images"]) == {
        f"test/{n}" for n in ("confusion_matrix", "curves", "roc", "reliability", "mistakes")
    }
