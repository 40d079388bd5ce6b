"""A CSV naming the images of a class-folder tree (data=csv) trains exactly as the tree does (data=imagefolder):
the same splits, the same metrics and the same weights in best.ckpt."""

import csv
import hashlib
import json

import pytest
import torch

from inception_tl.tasks.train import run
from tests.helpers import compose_config, write_image_tree

pytestmark = pytest.mark.slow

COMMON = ["experiment=quickstart", "backbone.pretrained=false", "data.image_size=75", "data.batch_size=4"]
COMMON += ["data.num_workers=0", "data.val_split=0.25", "trainer=cpu", "trainer.max_epochs=1"]
COMMON += ["callbacks.progress_bar=null", "figures=false", "callbacks.last_checkpoint=null"]


def weights_digest(checkpoint_path) -> str:
    """A hash of every tensor of the checkpoint's model, by name (the file also holds the config, which names
    the data differently)."""
    state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)["state_dict"]
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].cpu().numpy().tobytes())
    return digest.hexdigest()


def test_a_csv_of_a_folder_trains_to_the_folders_splits_metrics_and_weights(tmp_path):
    root = write_image_tree(tmp_path / "pets", {"train": {"cat": 6, "dog": 6}, "test": {"cat": 2, "dog": 2}}, size=64)
    with open(tmp_path / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["split", "label", "path"])  # the columns in any order
        for path in sorted(root.rglob("*.png"), reverse=True):  # the rows in any order
            split, label = path.relative_to(root).parts[:2]
            writer.writerow([split.upper(), label, path.relative_to(root)])
    sources = {
        "folder": ["data=imagefolder", f"data.root={root}"],
        "table": ["data=csv", f"data.csv={tmp_path / 'labels.csv'}", f"data.images={root}"],
    }
    metrics, digests, summaries = {}, {}, {}
    for name, data in sources.items():
        run_dir = tmp_path / name
        metrics[name] = run(compose_config([*COMMON, *data, f"paths.data_dir={tmp_path / 'cache'}"], run_dir))
        digests[name] = weights_digest(run_dir / "checkpoints" / "best.ckpt")
        summaries[name] = json.loads((run_dir / "data_summary.json").read_text())
        with open(run_dir / "report" / "predictions.csv") as handle:
            summaries[name]["predictions"] = list(csv.DictReader(handle))
    assert digests["table"] == digests["folder"]
    del metrics["table"]["best_checkpoint"], metrics["folder"]["best_checkpoint"]
    assert metrics["table"] == metrics["folder"]
    assert summaries["table"]["counts"] == summaries["folder"]["counts"]
    assert summaries["table"]["predictions"] == summaries["folder"]["predictions"]
    assert summaries["table"]["root"] == str(tmp_path / "labels.csv")
