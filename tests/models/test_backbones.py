import pytest
import torch

from inception_tl.data.preprocessing import resolve_preprocessing
from inception_tl.models import ImageClassifier


@pytest.mark.parametrize("name", ["inception_v3", "inception_v4", "inception_resnet_v2"])
@pytest.mark.parametrize("head", [{"kind": "linear"}, {"kind": "mlp", "hidden": 16, "dropout": 0.3}])
def test_every_backbone_takes_a_training_step_at_75px(name, head):
    torch.manual_seed(0)
    model = ImageClassifier(
        backbone={"name": name, "pretrained": False, "head": head},
        class_names=["a", "b", "c"],
        preprocessing=resolve_preprocessing(name, 75),
    )
    images, labels = torch.randn(2, 3, 75, 75), torch.tensor([0, 2])
    assert model(images).shape == (2, 3)

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before_head = [p.detach().clone() for p in model.head.parameters()]
    before_stem = next(model.backbone.parameters()).detach().clone()
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert all(not torch.equal(b, a) for b, a in zip(before_head, model.head.parameters(), strict=True))
    assert not torch.equal(before_stem, next(model.backbone.parameters()))


def test_inception_v3_auxiliary_classifier_is_off():
    model = ImageClassifier(
        backbone={"name": "inception_v3", "pretrained": False},
        class_names=["a", "b"],
        preprocessing=resolve_preprocessing("inception_v3", 75),
    )
    assert model.backbone.AuxLogits is None
