"""Class-activation maps: the target stage found for every backbone of conf/backbone/ (a ViT's tokens laid out as
its patch grid), a map the size of the image for each, a wrong `cam.layer` naming the valid ones, and nothing of
the model changed by computing them."""

import numpy as np
import pytest
import torch

from inception_tl.config.schema import CamMethod
from inception_tl.data.preprocessing import resolve_preprocessing
from inception_tl.errors import ConfigError
from inception_tl.evaluation.cam import activation_maps, cam_targets, choose_target
from inception_tl.models import ImageClassifier
from tests.helpers import BACKBONE_SIZES, calibrated_classifier, model_for

INCEPTION = {"inception_v3": "Mixed_6e", "inception_v4": "features.17", "inception_resnet_v2": "repeat_1.19"}
# At each backbone's test size: the last stage whose map has at least 3 x 3 cells (a ViT: its last block).
EXPECTED = {
    **INCEPTION,
    "resnet50": "layer3.5",
    "efficientnet_b3": "blocks.4.4",
    "convnext_tiny": "stages.2.blocks.8",
    "vit_base_patch16_224": "blocks.10",  # the last block's input: the class token alone is pooled
    "xception41": "blocks.10",
    "mobilenetv3_large_100": "blocks.4.1",
}


def model_and_size(name):
    if name in BACKBONE_SIZES:
        return model_for(name).eval(), BACKBONE_SIZES[name]
    return calibrated_classifier(name, ["a", "b"]), 75


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_backbone_gets_a_target_stage_and_a_map_the_size_of_its_image(name):
    model, size = model_and_size(name)
    target = choose_target(model, size, None)
    assert target.name == EXPECTED[name]
    if name.startswith("vit"):
        assert target.reshape is not None  # (N, 1 + 4 tokens, C) -> (N, C, 2, 2): the class token dropped
        assert target.grid == (size // 16, size // 16)
    torch.manual_seed(0)
    maps = activation_maps(model, torch.rand(3, 3, size, size), [0, 1, 0], target)
    assert maps.shape == (3, size, size)
    assert np.isfinite(maps).all()
    assert maps.min() >= 0
    assert maps.max() <= 1 + 1e-6


def test_at_the_backbones_own_size_the_target_is_its_last_spatial_stage():
    # The target depends on the stages' output shapes alone: an untrained model (calibrating its BatchNorm at
    # 299 px would cost 5 s here for nothing).
    model = ImageClassifier({"name": "inception_v3", "pretrained": False}, ["a", "b"],
                            resolve_preprocessing("inception_v3", 299)).eval()  # fmt: skip
    assert choose_target(model, 299, None).name == "Mixed_7c"  # 8 x 8 at 299 px


def test_a_wrong_layer_names_the_valid_ones():
    model, size = model_and_size("inception_v3")
    with pytest.raises(ConfigError, match=r"cam.layer='Mixed_9z'.*Mixed_5b.*Mixed_6e"):
        choose_target(model, size, "Mixed_9z")
    names = [target.name for target in cam_targets(model, size)]
    assert choose_target(model, size, names[0]).name == names[0]  # a valid one is taken as named


@pytest.mark.parametrize("method", list(CamMethod))
def test_computing_maps_leaves_the_model_as_it_was(method):
    """No weight, BatchNorm statistic, gradient or mode changed: metrics computed after the maps are the same."""
    model, size = model_and_size("inception_v3")
    before = {key: value.clone() for key, value in model.state_dict().items()}
    images = torch.rand(4, 3, size, size)
    with torch.no_grad():
        logits = model(images)
    maps = activation_maps(model, images, [0, 1, 1, 0], choose_target(model, size, None), method)
    assert maps.shape == (4, size, size)
    assert not model.training
    assert all(parameter.grad is None for parameter in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)
    with torch.no_grad():
        assert torch.equal(model(images), logits)
