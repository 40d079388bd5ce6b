"""SIGTERM mid-epoch leaves a resumable last.ckpt; `ckpt_path=last` finds it and the run finishes."""

import os
import subprocess
import sys
import time

import pytest
import torch

from inception_tl.errors import ConfigError
from inception_tl.training.checkpoints import resolve_checkpoint
from tests.helpers import REPO

SMALL = [
    "experiment=quickstart",
    "trainer.max_epochs=3",
    "data.source.train_per_class=10",
    "data.source.test_per_class=2",
    "data.num_workers=0",
    "data.batch_size=8",
]  # 36 training images: 4 steps per epoch


def train(tmp_path, *overrides):
    command = [sys.executable, "train.py", *SMALL, f"paths.data_dir={tmp_path / 'data'}", *overrides]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_sigterm_mid_epoch_saves_a_checkpoint_that_ckpt_path_last_resumes_to_the_end(tmp_path):
    interrupted = train(
        tmp_path,
        f"hydra.run.dir={tmp_path / 'runs' / 'first'}",
        "+callbacks.sigterm._target_=tests.signals.SigtermAt",
        "+callbacks.sigterm.epoch=1",
        "+callbacks.sigterm.batch=2",
    )
    assert interrupted.returncode == 143, interrupted.stdout[-2000:] + interrupted.stderr[-2000:]
    saved = tmp_path / "runs" / "first" / "checkpoints" / "last.ckpt"
    assert "Resume with the same command plus ckpt_path=last" in interrupted.stdout + interrupted.stderr
    state = torch.load(saved, map_location="cpu", weights_only=True)
    assert (state["epoch"], state["global_step"]) == (1, 7)  # mid-epoch: 4 steps of epoch 0, 3 of epoch 1
    assert not saved.with_suffix(".ckpt.part").exists()

    resumed = train(tmp_path, f"hydra.run.dir={tmp_path / 'runs' / 'second'}", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert f"Resuming from {saved}" in resumed.stdout.replace("\n", "")
    final = torch.load(
        tmp_path / "runs" / "second" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True
    )
    assert (final["epoch"], final["global_step"]) == (2, 12)  # finished all 3 epochs
    assert (tmp_path / "runs" / "second" / "metrics.json").is_file()


def test_ckpt_path_last_takes_the_newest_earlier_run_and_explains_when_there_is_none(tmp_path):
    runs = tmp_path / "outputs" / "train"
    with pytest.raises(ConfigError, match="no earlier run"):
        resolve_checkpoint("last", runs / "now")
    for name, age in (("older", 100), ("newer", 10)):
        checkpoint = runs / name / "checkpoints" / "last.ckpt"
        checkpoint.parent.mkdir(parents=True)
        checkpoint.write_bytes(b"x")
        os.utime(checkpoint, (time.time() - age, time.time() - age))
    assert resolve_checkpoint("last", runs / "now") == str(runs / "newer" / "checkpoints" / "last.ckpt")
    with pytest.raises(ConfigError, match="is not a file"):
        resolve_checkpoint(str(runs / "missing.ckpt"), runs / "now")
    assert resolve_checkpoint(None, runs / "now") is None
