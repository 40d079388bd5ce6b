"""W&B, offline: a two-job Hydra multirun gives two runs, each with the config, history, figures and table."""

import json

import pytest

from tests.helpers import read_run, run_entry_point

pytestmark = pytest.mark.slow


def test_each_multirun_job_gets_its_own_complete_wandb_run(tmp_path, monkeypatch):
    sweep = tmp_path / "sweep"
    arguments = ["--multirun", "experiment=quickstart", "logger=wandb", "seed=1,2", "trainer.max_epochs=2"]
    arguments += ["data.source.train_per_class=8", "data.source.test_per_class=2", "data.num_workers=0"]
    arguments += [f"paths.data_dir={tmp_path / 'data'}", f"hydra.sweep.dir={sweep}", "callbacks.last_checkpoint=null"]
    arguments += ["callbacks.model_checkpoint=null"]  # W&B logs no checkpoints (log_model: false)
    arguments += ["cam.enabled=false"]  # the class-activation maps are files of the run folder, not logged
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    result = run_entry_point("train.py", *arguments)  # in this process, as tests.helpers explains
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    for job, seed in ((0, 1), (1, 2)):
        files = list((sweep / str(job) / "wandb").glob("offline-run-*/run-*.wandb"))
        assert len(files) == 1, files  # one run per job, not one merged run
        run = read_run(files[0])
        assert run["name"] == f"quickstart-{job}"
        assert run["group"] == "sweep"
        assert {"inception_v3", "shapes", "full", "quickstart"} <= set(run["tags"])
        assert run["config"]["seed"] == seed
        assert run["config"]["backbone"]["name"] == "inception_v3"
        assert run["config"]["finetune"]["strategy"] == "full"

        history = run["history"]
        assert {0, 1} <= {row["epoch"] for row in history if "val/acc" in row}  # with the epoch, every epoch
        assert {0, 1} <= {row["epoch"] for row in history if "train/acc" in row}
        assert any("lr-AdamW/head" in row for row in history)
        figures = next(row for row in history if "test/figures/count" in row)
        assert figures["test/figures/count"] == 4  # confusion matrix, curves, reliability, mistakes
        table = next(row for row in history if "test/predictions/nrows" in row)
        assert table["test/predictions/nrows"] == 4 * 2  # every test image
        media = files[0].parent / "files" / "media"
        assert len(list((media / "images").rglob("figures_*.png"))) == 4
        (table_file,) = (media / "table").rglob("predictions_*.table.json")
        table = json.loads(table_file.read_text())
        assert table["columns"] == ["image", "path", "true", "predicted", "confidence"]
        assert {row[2] for row in table["data"]} == {"circle", "square", "star", "triangle"}
        assert all(0.0 <= row[4] <= 1.0 for row in table["data"])
