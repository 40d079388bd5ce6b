import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from inception_tl.data.preprocessing import eval_transform, resolve_preprocessing
from inception_tl.errors import ConfigError


@pytest.mark.parametrize(
    ("backbone", "crop_pct"), [("inception_v3", 0.875), ("inception_v4", 0.875), ("inception_resnet_v2", 0.8975)]
)
def test_preprocessing_is_timms_data_config_for_the_backbone(backbone, crop_pct):
    config = resolve_preprocessing(backbone)
    assert config["input_size"] == (3, 299, 299)
    assert config["mean"] == (0.5, 0.5, 0.5)
    assert config["std"] == (0.5, 0.5, 0.5)
    assert config["interpolation"] == "bicubic"
    assert config["crop_pct"] == crop_pct


def test_image_size_overrides_the_size_only():
    config = resolve_preprocessing("inception_v4", image_size=128)
    assert config["input_size"] == (3, 128, 128)
    assert config["mean"] == (0.5, 0.5, 0.5)
    assert config["interpolation"] == "bicubic"


def test_image_size_below_the_inception_minimum_is_refused():
    with pytest.raises(ConfigError, match="at least 75"):
        resolve_preprocessing("inception_v3", image_size=64)


def _interpolations(transform: T.Compose) -> set:
    return {t.interpolation for t in transform.transforms if hasattr(t, "interpolation")}


def test_eval_transform_resizes_by_crop_pct_bicubic_and_normalises_with_half():
    config = resolve_preprocessing("inception_v3", image_size=100)
    transform = eval_transform(config)
    resize = next(t for t in transform.transforms if isinstance(t, T.Resize))
    assert resize.size == int(100 / 0.875)
    assert _interpolations(transform) == {T.InterpolationMode.BICUBIC}
    white = transform(Image.new("RGB", (150, 120), (255, 255, 255)))
    black = transform(Image.new("RGB", (150, 120), (0, 0, 0)))
    assert white.shape == (3, 100, 100)
    assert torch.allclose(white, torch.ones_like(white))
    assert torch.allclose(black, -torch.ones_like(black))
