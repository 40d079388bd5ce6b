"""The report's predictions come from the pass that computes the metrics: each test image is read once,
after training and in eval.py, and the report agrees with the metrics to the last image."""

import csv
import json
from collections import Counter

import pytest
import torch

import inception_tl.data.store.cache as cache
from inception_tl.tasks.evaluate import evaluate
from inception_tl.tasks.train import run
from inception_tl.training.checkpoints import EVALUATION_KEYS
from tests.helpers import compose_config, write_image_tree


@pytest.fixture
def decoded(monkeypatch) -> Counter:
    """How often each file is decoded for the model (the scan's header checks and the report's figures aside)."""
    counts: Counter = Counter()
    original = cache.decode_for_storage

    def counting(path, *args):
        counts[path] += 1
        return original(path, *args)

    monkeypatch.setattr(cache, "decode_for_storage", counting)
    return counts


def test_training_and_eval_score_each_test_image_once_and_report_that_pass(tmp_path, decoded):
    root = write_image_tree(tmp_path / "mine", {"train": {"cat": 6, "dog": 6}, "test": {"cat": 3, "dog": 4}})
    test_images = sorted(str(path) for path in (root / "test").rglob("*.png"))
    overrides = ["data=imagefolder", f"data.root={root}", "data.cache=none", "data.image_size=75"]
    overrides += [f"paths.data_dir={tmp_path / 'cache'}", "callbacks.last_checkpoint=null"]
    overrides += ["data.batch_size=4", "data.num_workers=0", "backbone.pretrained=false", "trainer=cpu"]
    overrides += ["trainer.max_epochs=1", "finetune=full", "~logger", "callbacks.progress_bar=null", "figures=false"]
    overrides += ["callbacks=ema"]  # with EMA weights: best.ckpt holds the average, eval.py must reproduce from it
    run_dir = tmp_path / "run"
    metrics = run(compose_config(overrides, run_dir))

    assert {path: decoded[path] for path in test_images} == dict.fromkeys(test_images, 1)
    with open(run_dir / "report" / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["path"] for row in rows) == test_images
    correct = sum(row["label"] == row["predicted"] for row in rows)
    assert metrics["test/acc"] == pytest.approx(correct / len(rows), abs=1e-6)
    matrix = [[0, 0], [0, 0]]
    for row in rows:
        matrix[["cat", "dog"].index(row["label"])][["cat", "dog"].index(row["predicted"])] += 1
    assert metrics["test/confusion_matrix"] == matrix

    decoded.clear()
    eval_dir = tmp_path / "eval"
    checkpoint = run_dir / "checkpoints" / "best.ckpt"
    # The average alone: EMA's copy of the trained weights and the optimizer's state are last.ckpt's, for resuming.
    assert sorted(torch.load(checkpoint, weights_only=True)) == sorted(EVALUATION_KEYS)
    evaluated = evaluate(compose_config([f"ckpt_path={checkpoint}", "figures=false"], eval_dir, config_name="eval"))
    assert {path: decoded[path] for path in test_images} == dict.fromkeys(test_images, 1)
    assert {key: evaluated[key] for key in metrics if key.startswith("test/")} == {
        key: value for key, value in metrics.items() if key.startswith("test/")
    }
    with open(eval_dir / "report" / "predictions.csv") as handle:
        assert list(csv.DictReader(handle)) == rows
    assert json.loads((eval_dir / "metrics.json").read_text())["test/acc"] == metrics["test/acc"]
