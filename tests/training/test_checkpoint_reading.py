"""Every task reads checkpoints through one reader: a text file, a truncated checkpoint or one carrying foreign
Python objects gives eval.py, predict.py and export.py the same one line naming the file and exit code 1, and
nothing in the file is run."""

import os
import pathlib
import time

import pytest
import torch

from inception_tl.errors import ConfigError
from inception_tl.tasks.cli import run_or_exit
from inception_tl.tasks.evaluate import evaluate
from inception_tl.tasks.export import export
from inception_tl.tasks.predict import predict
from inception_tl.training.checkpoints import resolve_checkpoint
from tests.helpers import compose_config

TASKS = {
    "eval": (evaluate, []),
    "predict": (predict, ["input=."]),
    "export": (export, ["format=torchscript"]),
}


class RunsCodeWhenUnpickled:
    """What a malicious or foreign pickle can do on a plain `torch.load`: call any function, here touch a file."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def bad_checkpoints(folder: pathlib.Path) -> dict[str, tuple[pathlib.Path, str]]:
    """name: (file, what the one line must say)."""
    text = folder / "notes.ckpt"
    text.write_text("epoch 3: 0.91 accuracy\n")
    whole = folder / "whole.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}, "hyper_parameters": {"class_names": ["a", "b"]}}, whole)
    truncated = folder / "truncated.ckpt"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    foreign = folder / "foreign.ckpt"
    torch.save({"hyper_parameters": {"note": RunsCodeWhenUnpickled(folder / "EXECUTED")}}, foreign)
    return {
        "text": (text, "is not a checkpoint"),
        "truncated": (truncated, "is truncated or damaged"),
        "foreign": (foreign, "holds Python objects other than tensors and plain values ("),
    }


@pytest.mark.parametrize("task", TASKS)
def test_a_bad_checkpoint_is_one_line_naming_the_file_and_exit_1_and_nothing_runs(tmp_path, capsys, task):
    entry, extra = TASKS[task]
    for name, (path, complaint) in bad_checkpoints(tmp_path).items():
        cfg = compose_config([f"ckpt_path={path}", *extra], tmp_path / f"{task}-{name}", config_name=task)
        with pytest.raises(SystemExit) as exited:
            run_or_exit(entry, cfg)
        assert exited.value.code == 1
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"Error: ckpt_path={path} ")
        assert complaint in lines[0]
        assert "weights_only=False" not in lines[0]
    assert not (tmp_path / "EXECUTED").exists()


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
