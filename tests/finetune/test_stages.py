import pytest
import timm
import torch
from torch import nn

from inception_tl.finetune.stages import StageWalkError, backbone_stages, check_stage_walk, run_stages
from inception_tl.models.backbone import create_backbone
from tests.helpers import BACKBONE_SIZES

# The Inception family at its smallest size, and every other architecture of conf/backbone/ at a small size.
MODELS = [("inception_v3", 75), ("inception_v4", 75), ("inception_resnet_v2", 75), *BACKBONE_SIZES.items()]


@pytest.fixture(scope="module", params=MODELS, ids=[name for name, _ in MODELS])
def backbone(request):
    name, size = request.param
    torch.manual_seed(0)
    model = create_backbone(name, pretrained=False, weights=None, image_size=size, model_kwargs=None).eval()
    return model, size, backbone_stages(model, size)


def pooled(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    return model.forward_head(model.forward_features(images), pre_logits=True)


def test_walking_the_stages_is_exactly_the_models_own_forward(backbone):
    model, size, stages = backbone
    images = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert torch.equal(run_stages(stages, images), pooled(model, images))


def test_stages_hold_every_backbone_parameter_once(backbone):
    model, _, stages = backbone
    in_stages = [id(p) for stage in stages for _, p in stage.parameters]
    assert sorted(in_stages) == sorted(id(p) for p in model.parameters())
    named = dict(model.named_parameters())
    assert all(named[name] is p for stage in stages for name, p in stage.parameters)


def test_a_frozen_prefix_builds_no_graph_and_gets_no_gradient(backbone):
    model, size, stages = backbone
    frozen = len(stages) // 2
    model.zero_grad(set_to_none=True)
    run_stages(stages, torch.randn(2, 3, size, size), frozen=frozen).sum().backward()
    assert all(p.grad is None for stage in stages[:frozen] for _, p in stage.parameters)
    trainable = [p.grad for stage in stages[frozen:] for _, p in stage.parameters]
    assert trainable
    assert all(grad is not None for grad in trainable)


def test_stage_groups_are_timms_parameter_groups_in_order(backbone):
    model, _, stages = backbone
    expected = len(timm.models.group_parameters(model, model.group_matcher()))
    groups = [stage.group for stage in stages if stage.group is not None]
    assert len(set(groups)) == expected
    assert groups == sorted(groups)  # released from the top, the groups above a stage run after it
    assert all(stage.group is None for stage in stages if not stage.parameters)


def test_inception_stages_keep_their_block_names():
    stages = backbone_stages(
        create_backbone("inception_v3", pretrained=False, weights=None, image_size=75, model_kwargs=None), 75
    )
    assert [stage.name for stage in stages][:3] == ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3"]
    assert [stage.name for stage in stages][-2:] == ["Mixed_7c", "pre_logits"]


class ScalesBetweenStages(nn.Module):
    """A model whose forward_features does more than call its modules: it doubles the features between them."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3)
        self.body = nn.Conv2d(4, 8, 3)
        self.num_features = 8
        self.pretrained_cfg = {"input_size": (3, 16, 16)}

    def group_matcher(self, coarse: bool = False) -> dict[str, str]:
        return {"stem": r"^stem", "blocks": r"^body"}

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(2 * self.stem(images))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return features.mean((2, 3))


def test_a_model_that_does_more_than_walk_its_stages_is_found_out():
    model = ScalesBetweenStages()
    stages = backbone_stages(model)
    assert [stage.name for stage in stages] == ["stem", "body", "pre_logits"]
    with pytest.raises(StageWalkError, match="does not give its forward_features"):
        check_stage_walk(model, stages)
