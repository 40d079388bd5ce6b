import pytest
import torch

from inception_tl.finetune.stages import backbone_stages, run_stages
from inception_tl.models.backbone import create_backbone


@pytest.fixture(scope="module", params=["inception_v3", "inception_v4", "inception_resnet_v2"])
def backbone(request):
    torch.manual_seed(0)
    return create_backbone(request.param, pretrained=False, weights=None, drop_rate=0.0).eval()


def test_walking_the_stages_is_exactly_forward_features(backbone):
    images = torch.randn(2, 3, 75, 75)
    with torch.no_grad():
        assert torch.equal(run_stages(backbone_stages(backbone), images), backbone.forward_features(images))


def test_stages_hold_every_backbone_parameter_once(backbone):
    stages = backbone_stages(backbone)
    in_stages = [id(p) for stage in stages for p in stage.module.parameters()]
    assert sorted(in_stages) == sorted(id(p) for p in backbone.parameters())


def test_a_frozen_prefix_builds_no_graph_and_gets_no_gradient(backbone):
    stages = backbone_stages(backbone)
    frozen = len(stages) // 2
    run_stages(stages, torch.randn(2, 3, 75, 75), frozen=frozen).sum().backward()
    assert all(p.grad is None for stage in stages[:frozen] for p in stage.module.parameters())
    trainable = [p.grad for stage in stages[frozen:] for p in stage.module.parameters()]
    assert trainable
    assert all(grad is not None for grad in trainable)


def test_stage_groups_are_timms_parameter_groups(backbone):
    """13 / 20 / 45 groups: the counts of timm's group_matcher without the ImageNet head."""
    expected = {"InceptionV3": 13, "InceptionV4": 20, "InceptionResnetV2": 45}[type(backbone).__name__]
    stages = backbone_stages(backbone)
    assert len({stage.group for stage in stages if stage.group is not None}) == expected
    assert all(stage.group is None for stage in stages if not list(stage.module.parameters()))
