"""A linear probe on features computed once trains the head exactly as running the frozen backbone every step."""

import pytest
import torch

from inception_tl.training.callbacks import FeatureCache
from tests.helpers import classifier, fit, make_datamodule, write_image_tree

LINEAR_PROBE = {"strategy": "linear_probe"}
HEAD = {"kind": "mlp", "hidden": 16, "dropout": 0.3}  # dropout: the cached run must draw the same masks


class ImagesThroughStem:
    """Counts the images the backbone's first convolution sees."""

    def __init__(self, model) -> None:
        self.count = 0
        model.backbone.Conv2d_1a_3x3.register_forward_hook(self)

    def __call__(self, module, inputs, output) -> None:
        self.count += len(output)


@pytest.fixture(scope="module")
def fixed_images(shared_tmp):
    """12 training and 4 validation images, not augmented."""
    root = write_image_tree(shared_tmp("probe"), {"train": {"a": 8, "b": 8}})
    return make_datamodule(root, val_split=0.25, augment={"enabled": False})


def test_cached_features_train_the_head_to_the_uncached_runs_weights(fixed_images):
    epochs = 3
    uncached = classifier(LINEAR_PROBE, head=HEAD)
    through_uncached = ImagesThroughStem(uncached)
    trainer = fit(uncached, fixed_images, epochs, callbacks=[FeatureCache(enabled=False)])
    uncached_metrics = {key: float(value) for key, value in trainer.callback_metrics.items()}

    cached = classifier(LINEAR_PROBE, head=HEAD)
    through_cached = ImagesThroughStem(cached)
    trainer = fit(cached, fixed_images, epochs, callbacks=[FeatureCache(enabled=True)])

    assert through_uncached.count == epochs * (12 + 4)
    assert through_cached.count == 12 + 4  # each image once, then only the head
    for name, tensor in uncached.head.state_dict().items():
        torch.testing.assert_close(cached.head.state_dict()[name], tensor, rtol=0, atol=1e-5, msg=name)
    assert not torch.equal(cached.head[0].weight, classifier(LINEAR_PROBE, head=HEAD).head[0].weight)  # it trained
    for key in ("train/loss_epoch", "val/loss", "val/acc"):
        assert float(trainer.callback_metrics[key]) == pytest.approx(uncached_metrics[key], abs=1e-5)
    assert "features" not in next(iter(fixed_images.loader("val")))  # images again after fitting


def test_features_are_not_cached_when_something_but_the_head_changes(fixed_images):
    model = classifier({"strategy": "warmup", "warmup_epochs": 1})
    assert "trains at some point" in FeatureCache.reason_not_to(model, fixed_images)
    model = classifier({**LINEAR_PROBE, "train_bn": True})
    assert "train_bn" in FeatureCache.reason_not_to(model, fixed_images)
    augmented = make_datamodule(fixed_images.root, val_split=0.25)
    assert "augment" in FeatureCache.reason_not_to(classifier(LINEAR_PROBE), augmented)
    assert FeatureCache.reason_not_to(classifier(LINEAR_PROBE), fixed_images) is None
