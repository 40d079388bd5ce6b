"""Every architecture in conf/backbone/ beyond Inception trains with the freeze schedule and exports with parity:
in the warm-up only the head trains, after the release exactly the head and the released timm groups."""

from pathlib import Path

import pytest
import timm
import torch

from inception_tl.data.preprocessing import resolve_preprocessing
from inception_tl.errors import ConfigError
from inception_tl.finetune.stages import StageWalkError
from inception_tl.models import ImageClassifier
from tests.helpers import BACKBONE_SIZES as SIZES
from tests.helpers import EpochSnapshots, changed, fit, make_datamodule, model_for, snapshot, write_image_tree

CONF = Path(__file__).resolve().parents[2] / "conf" / "backbone"


def test_conf_backbone_holds_the_tested_architectures():
    names = {path.stem for path in CONF.glob("*.yaml")}
    assert names == {"inception_v3", "inception_v4", "inception_resnet_v2", *SIZES}


def timm_groups(model: ImageClassifier) -> list[list[str]]:
    """timm's own parameter groups of the backbone, bottom to top (names relative to the backbone)."""
    backbone = model.backbone
    groups = timm.models.group_parameters(backbone, backbone.group_matcher())
    return [groups[key] for key in sorted(groups)]


class TrainableCounts(EpochSnapshots):
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self.trainable = [*getattr(self, "trainable", []), pl_module.trainable_parameters()]


@pytest.mark.parametrize("name", list(SIZES))
def test_warmup_then_release_trains_exactly_the_head_then_the_released_groups(name, tmp_path):
    probe = model_for(name)
    groups = timm_groups(probe)
    released_groups = groups[-2:]  # released from the start of the second-highest group
    first = released_groups[0][0]
    unfreeze_from = next(stage.name for stage in probe.stages if any(n == first for n, _ in stage.parameters))
    model = model_for(name, {"strategy": "warmup", "warmup_epochs": 1, "unfreeze_from": unfreeze_from})

    root = write_image_tree(tmp_path / "data", {"train": {"a": 4, "b": 4}}, size=SIZES[name] + 8)
    data = make_datamodule(root, backbone=name, image_size=SIZES[name], val_split=0.25)
    before, epochs = snapshot(model.backbone), TrainableCounts()
    fit(model, data, epochs=2, callbacks=[epochs])

    parameters = dict(model.backbone.named_parameters())
    head = sum(p.numel() for p in model.head.parameters())
    released = sum(parameters[n].numel() for group in released_groups for n in group)
    assert epochs.trainable == [head, head + released]
    assert changed(before, epochs.states[0]) == set()  # the warm-up: the backbone, BatchNorm statistics too
    moved = changed(before, epochs.states[1])
    assert moved & {n for group in released_groups for n in group}  # (a zero-initialised branch may not move)
    assert not moved & {n for group in groups[:-2] for n in group}


def test_a_name_timm_does_not_know_gets_the_nearest_names():
    with pytest.raises(ConfigError, match=r"resnet50"):
        resolve_preprocessing("resnet_50")


def test_a_vit_size_that_is_not_a_multiple_of_its_patch_is_refused():
    backbone = {"name": "vit_base_patch16_224", "pretrained": False, "model_kwargs": {"depth": 1}}
    with pytest.raises(ConfigError, match=r"multiple of 16 \(32 or 48\)"):
        ImageClassifier(backbone, ["a", "b"], resolve_preprocessing("vit_base_patch16_224", 40))


def test_channels_last_applies_to_convolutional_backbones_only():
    assert model_for("resnet50", model_kwargs={"layers": (1, 1, 1, 1)}).set_channels_last(True).channels_last
    assert not model_for("vit_base_patch16_224", model_kwargs={"depth": 1}).set_channels_last(True).channels_last


@pytest.mark.parametrize(("name", "reason"), [("levit_128s", "fails"), ("coat_lite_tiny", "parameters of its own")])
def test_a_model_that_cannot_be_walked_refuses_partial_freezing_and_trains_whole(name, reason):
    """Real timm models: LeViT reshapes its features between two modules, CoaT adds class tokens of its own."""
    preprocessing = resolve_preprocessing(name)
    with pytest.raises(StageWalkError, match=reason) as refused:
        ImageClassifier({"name": name, "pretrained": False}, ["a", "b"], preprocessing,
                        finetune={"strategy": "gradual"})  # fmt: skip
    assert "finetune=full, finetune=linear_probe, or finetune=warmup without" in str(refused.value)

    model = ImageClassifier({"name": name, "pretrained": False}, ["a", "b"], preprocessing,
                            finetune={"strategy": "warmup", "warmup_epochs": 1})  # fmt: skip
    images = torch.rand(2, *preprocessing["input_size"])
    assert model.trainable_parameters() == sum(p.numel() for p in model.head.parameters())
    model(images).sum().backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    model.set_frozen_stages(0)  # the release: everything trains
    model(images).sum().backward()
    assert all(p.grad is not None for p in model.backbone.parameters())
