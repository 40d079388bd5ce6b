"""`python train.py ... cv.folds=K` as a user runs it (K = 3 here, the README's 5 composes in
test_readme_commands.py): K fold runs and the aggregate, out-of-fold predictions covering every training image
once, planted copies kept in one fold, and a stopped cross-validation resumed without training its finished folds
again."""

import csv
import json
import shutil

import pytest

from tests.helpers import run_script, write_image_tree

pytestmark = pytest.mark.slow

FOLDS = 3
PER_CLASS = 15
# Exact copies planted in train/: (original, copy) of one class each.
COPIES = [
    ("cat/cat-000.png", "cat/copy-a.png"),
    ("cat/cat-001.png", "cat/copy-b.png"),
    ("dog/dog-002.png", "dog/copy-c.png"),
]


@pytest.fixture(scope="module")
def cross_validated(shared_tmp):
    counts = {"train": {"cat": PER_CLASS, "dog": PER_CLASS}, "test": {"cat": 3, "dog": 3}}
    root = write_image_tree(shared_tmp("photos"), counts, size=80)
    for original, copy in COPIES:
        shutil.copyfile(root / "train" / original, root / "train" / copy)
    run_dir = shared_tmp("cv-run")
    command = ["experiment=quickstart", "data=imagefolder", f"data.root={root}", "data.batch_size=8",
               "trainer.max_epochs=1", "figures=false", "callbacks.progress_bar=null", f"cv.folds={FOLDS}"]
    first = run_script("train.py", *command, f"hydra.run.dir={run_dir}")
    return root, run_dir, command, first


def val_paths(run_dir, fold):
    with open(run_dir / f"fold_{fold}" / "report" / "val_predictions.csv") as handle:
        return [row["path"] for row in csv.DictReader(handle)]


def test_every_fold_and_the_aggregate_are_written(cross_validated):
    _, run_dir, _, first = cross_validated
    for fold in range(FOLDS):
        assert (run_dir / f"fold_{fold}" / "metrics.json").is_file()
        assert (run_dir / f"fold_{fold}" / "checkpoints" / "best.ckpt").is_file()
    summary = json.loads((run_dir / "cv" / "summary.json").read_text())
    accuracies = [json.loads((run_dir / f"fold_{k}" / "metrics.json").read_text())["val/acc"] for k in range(FOLDS)]
    found = summary["summary"]["val/acc"]
    assert found["folds"] == accuracies
    assert found["mean"] == pytest.approx(sum(accuracies) / FOLDS)
    assert found["interval"][0] <= found["mean"] <= found["interval"][1]
    assert "cv.folds" not in summary["final_command"]
    assert summary["final_command"].startswith("python train.py experiment=quickstart data=imagefolder")
    assert "Cross-validation, 3 folds" in first.stdout
    metrics = json.loads((run_dir / "cv" / "metrics.json").read_text())
    low, high = metrics["intervals"]["oof/acc"]  # the pooled predictions' bootstrap interval
    assert low <= metrics["oof/acc"] <= high


def test_out_of_fold_predictions_cover_every_training_image_exactly_once(cross_validated):
    root, run_dir, _, _ = cross_validated
    training = sorted(str(path) for path in (root / "train").rglob("*.png"))
    pooled = [path for fold in range(FOLDS) for path in val_paths(run_dir, fold)]
    assert sorted(pooled) == training  # once each: no image in two folds' validation, none left out
    with open(run_dir / "cv" / "oof_predictions.csv") as handle:
        assert sorted(row["path"] for row in csv.DictReader(handle)) == training


def test_planted_copies_land_in_one_fold(cross_validated):
    root, run_dir, _, _ = cross_validated
    fold_of = {path: fold for fold in range(FOLDS) for path in val_paths(run_dir, fold)}
    for original, copy in COPIES:
        assert fold_of[str(root / "train" / original)] == fold_of[str(root / "train" / copy)]


def test_a_stopped_cross_validation_resumes_without_training_finished_folds_again(cross_validated):
    """As if killed during fold 1: folds 1 and 2 have no metrics.json; the same command with hydra.run.dir resumes."""
    _, run_dir, command, _ = cross_validated
    finished = (run_dir / "fold_0" / "checkpoints" / "best.ckpt").stat().st_mtime_ns
    for fold in (1, 2):
        (run_dir / f"fold_{fold}" / "metrics.json").unlink()
    shutil.rmtree(run_dir / "fold_2")  # fold 2 had not started
    resumed = run_script("train.py", *command, f"hydra.run.dir={run_dir}")
    assert "Fold 0 of 3: finished before" in resumed.stdout
    assert (run_dir / "fold_0" / "checkpoints" / "best.ckpt").stat().st_mtime_ns == finished
    assert "Fold 1 of 3: did not finish; started again." in resumed.stdout  # its leftovers removed first
    for fold in (1, 2):
        assert f"Fold {fold} of 3 (resume" in resumed.stdout
        assert (run_dir / f"fold_{fold}" / "metrics.json").is_file()
    assert "Cross-validation, 3 folds" in resumed.stdout
