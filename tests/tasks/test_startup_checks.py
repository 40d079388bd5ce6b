"""Settings that cannot work stop `train.run` at once, saying why and what to do, before data is read."""

import re
import subprocess
import sys

import pytest
import torch

from inception_tl.errors import ConfigError
from inception_tl.tasks.train import run
from tests.helpers import REPO, compose_config

QUICK = ["experiment=quickstart", "data.source.train_per_class=4", "data.source.test_per_class=2"]


def save_checkpoint(path, backbone: str, class_names: list[str]) -> str:
    hyperparameters = {"backbone": {"name": backbone}, "class_names": class_names}
    torch.save({"hyper_parameters": hyperparameters, "optimizer_states": []}, path)  # as a resumable last.ckpt
    return str(path)


def test_a_checkpoint_of_another_backbone_is_refused_before_any_data_is_read(tmp_path):
    ckpt = save_checkpoint(tmp_path / "v4.ckpt", "inception_v4", ["circle", "square", "star", "triangle"])
    cfg = compose_config([*QUICK, f"ckpt_path={ckpt}", f"paths.data_dir={tmp_path / 'data'}"], tmp_path / "run")
    with pytest.raises(ConfigError) as error:
        run(cfg)
    assert f"ckpt_path={ckpt} holds a inception_v4" in str(error.value)
    assert "backbone=inception_v3" in str(error.value)
    assert not (tmp_path / "data").exists()  # the shapes were never generated


def test_a_checkpoint_of_other_classes_is_refused_before_the_model_is_built(tmp_path):
    ckpt = save_checkpoint(tmp_path / "two.ckpt", "inception_v3", ["cat", "dog"])
    cfg = compose_config([*QUICK, f"ckpt_path={ckpt}", f"paths.data_dir={tmp_path / 'data'}"], tmp_path / "run")
    with pytest.raises(ConfigError) as error:
        run(cfg)
    message = str(error.value)
    assert "trained on 2 classes ['cat', 'dog']" in message
    assert "the configured data has 4 classes ['circle', 'square', 'star', 'triangle']" in message
    assert not (tmp_path / "run" / "config.yaml").exists()  # stopped before the trainer and the run's outputs


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (b"not a checkpoint at all", "is not a checkpoint: torch.save writes a zip archive"),
        ({"state_dict": {}}, "is not a checkpoint written by train.py"),
    ],
)
def test_a_file_that_is_not_a_training_checkpoint_is_refused(tmp_path, content, complaint):
    path = tmp_path / "file.ckpt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    cfg = compose_config([*QUICK, f"ckpt_path={path}", f"paths.data_dir={tmp_path / 'data'}"], tmp_path / "run")
    with pytest.raises(ConfigError, match=complaint):
        run(cfg)


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ("finetune.unfreeze_from=Mixed_9z", "finetune.unfreeze_from='Mixed_9z' names no block of this backbone"),
        ("data.image_size=64", "data.image_size=64"),
        ("data.batch_size=1", "data.batch_size=1 is too small"),
        ("data.val_split=1.5", "data.val_split=1.5 must be between 0 and 1"),
    ],
)
def test_an_impossible_setting_stops_the_run_before_any_data_is_read(tmp_path, override, complaint):
    overrides = ["experiment=quickstart", "finetune=warmup", override, f"paths.data_dir={tmp_path / 'data'}"]
    cfg = compose_config(overrides, tmp_path / "run")
    with pytest.raises(ConfigError, match=re.escape(complaint)):
        run(cfg)
    assert not (tmp_path / "data").exists()  # the shapes were never generated


def test_help_answers_without_importing_torch():
    """`python train.py --help` lists the config groups in about a second: torch, Lightning and timm load only
    when a run starts."""
    command = [sys.executable, "-X", "importtime", str(REPO / "train.py"), "--help"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "== Configuration groups ==" in result.stdout
    assert "data: cifar10, csv, hf, horse_human, imagefolder, shape_tags, shapes, stream" in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time")]
    imported = {line.rsplit("|", 1)[-1].strip() for line in lines}
    assert "hydra" in imported
    assert not imported & {"torch", "lightning", "timm"}


def test_the_run_summary_names_every_lever_that_is_on(tmp_path):
    """EMA, Mixup, colour, policy, erasing, class weights and balanced sampling, each said when on."""
    from inception_tl.config.instantiate import instantiate
    from inception_tl.tasks.summary import levers_on
    from tests.helpers import ALL_LEVERS

    cfg = compose_config([*QUICK, *ALL_LEVERS, "data.balance=weighted", "label_smoothing=0.1"], tmp_path)
    augment = instantiate(cfg.data, backbone=cfg.backbone.name).augment
    said = "; ".join(levers_on(cfg, augment))
    for lever in (
        "EMA weights (decay 0.999)",
        "Mixup 0.4 / CutMix 1.0",
        "colour: brightness 0.3",
        "policy trivial",
        "random erasing 0.25",
        "class weights balanced",
        "balanced sampling",
        "label smoothing 0.1",
    ):
        assert lever in said, lever
    assert levers_on(compose_config(QUICK, tmp_path), augment.__class__()) == []
