"""A process killed while writing a checkpoint leaves the previous one intact under the real name."""

import os
import signal
from pathlib import Path

import pytest
import torch

from inception_tl.training.checkpoint_io import AtomicCheckpointIO
from inception_tl.training.trainer import build_trainer
from tests.helpers import compose_config, run_in_forked_child


def save_twice_dying_in_the_second(path: Path) -> None:
    """In a forked child: saves epoch 1, then dies by SIGKILL half way through writing epoch 2's bytes."""
    io = AtomicCheckpointIO()
    io.save_checkpoint({"epoch": 1, "weights": torch.ones(1000)}, path)
    real_save = torch.save

    def save_then_die(obj, handle):
        real_save(obj, handle)
        handle.truncate(handle.tell() // 2)
        handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = save_then_die  # in the child only
    io.save_checkpoint({"epoch": 2, "weights": torch.zeros(1000)}, path)


def test_a_kill_mid_write_leaves_the_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    assert run_in_forked_child(save_twice_dying_in_the_second, path) == -signal.SIGKILL
    assert (tmp_path / "checkpoints" / "last.ckpt.part").is_file()  # the torn write, under another name
    saved = torch.load(path, weights_only=True)
    assert saved["epoch"] == 1
    assert torch.equal(saved["weights"], torch.ones(1000))


def test_an_exception_mid_write_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "best.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 1}, path)

    def interrupted(obj, handle):
        handle.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        AtomicCheckpointIO().save_checkpoint({"epoch": 2}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt"]
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["epoch"] == 1


def test_every_checkpoint_of_a_training_run_is_written_atomically(tmp_path):
    trainer = build_trainer(compose_config(["experiment=quickstart"], tmp_path))
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def test_the_checkpoints_are_the_configured_ones_and_none_when_both_are_null(tmp_path):
    names = {callback.filename for callback in build_trainer(compose_config([], tmp_path)).checkpoint_callbacks}
    assert names == {"best", "last"}
    nothing = ["callbacks.model_checkpoint=null", "callbacks.last_checkpoint=null"]
    trainer = build_trainer(compose_config(nothing, tmp_path))
    assert trainer.checkpoint_callbacks == []  # not Lightning's default epoch=N-step=M.ckpt either
