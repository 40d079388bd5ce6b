"""Local weight files: exact loading, classifier dropped, mismatches and unsafe pickles refused."""

import socket
import time

import pytest
import timm
import torch
from safetensors.torch import save_file

from inception_tl.errors import WeightsError
from inception_tl.models.backbone import create_backbone, load_backbone_weights
from tests.helpers import compose_config, run_entry_point


def random_state_dict(name: str, num_classes: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(123)
    model = timm.create_model(name, pretrained=False, num_classes=num_classes)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter))
    return {key: value.contiguous() for key, value in model.state_dict().items()}


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_weights_file_loads_every_backbone_tensor_exactly(tmp_path, suffix):
    saved = random_state_dict("inception_v3")
    path = tmp_path / f"weights{suffix}"
    save_file(saved, str(path)) if suffix == ".safetensors" else torch.save(saved, path)
    model = create_backbone("inception_v3", pretrained=True, weights=str(path), image_size=None, model_kwargs=None)
    loaded = model.state_dict()
    assert loaded.keys() == saved.keys()
    assert all(torch.equal(loaded[key], saved[key]) for key in saved)


def test_imagenet_classifier_in_the_file_is_dropped_for_the_new_head(tmp_path):
    saved = random_state_dict("inception_v3", num_classes=1000)
    assert "fc.weight" in saved
    torch.save(saved, tmp_path / "imagenet.pth")
    model = create_backbone(
        "inception_v3", pretrained=False, weights=str(tmp_path / "imagenet.pth"), image_size=None, model_kwargs=None
    )
    assert torch.equal(model.state_dict()["Conv2d_1a_3x3.conv.weight"], saved["Conv2d_1a_3x3.conv.weight"])


def test_weights_for_another_backbone_are_a_clear_error(tmp_path):
    save_file(random_state_dict("inception_resnet_v2"), str(tmp_path / "irv2.safetensors"))
    with pytest.raises(Exception, match="does not hold inception_v3 weights") as error:
        create_backbone(
            "inception_v3",
            pretrained=False,
            weights=str(tmp_path / "irv2.safetensors"),
            image_size=None,
            model_kwargs=None,
        )
    assert "irv2.safetensors" in str(error.value)
    assert "backbone=" in str(error.value)


def test_weights_through_the_config_reach_the_model(tmp_path):
    from inception_tl.data.preprocessing import resolve_preprocessing
    from inception_tl.models import ImageClassifier

    saved = random_state_dict("inception_v4")
    save_file(saved, str(tmp_path / "v4.safetensors"))
    cfg = compose_config(["backbone=inception_v4", f"backbone.weights={tmp_path / 'v4.safetensors'}"], tmp_path)
    model = ImageClassifier(
        backbone=dict(cfg.backbone), class_names=["x", "y"], preprocessing=resolve_preprocessing("inception_v4", 75)
    )
    loaded = model.backbone.state_dict()
    assert all(torch.equal(loaded[key], saved[key]) for key in saved)


def test_unreachable_hub_tells_how_to_train_offline(tmp_path, monkeypatch):
    """No network and an empty cache: the CLI names the fix instead of printing a hub stack trace."""
    import huggingface_hub.constants

    # What HF_HUB_OFFLINE=1 and an empty HF_HOME set when huggingface_hub is imported (it already is here).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "https://huggingface.co")  # whatever HF_ENDPOINT says
    arguments = ["experiment=quickstart", "backbone.pretrained=true", f"paths.data_dir={tmp_path}"]
    arguments += ["data.source.train_per_class=2", "data.source.test_per_class=1", f"hydra.run.dir={tmp_path / 'run'}"]
    result = run_entry_point("train.py", *arguments)  # in this process, as tests.helpers explains
    assert result.returncode == 1
    assert "HF_HUB_OFFLINE is set and the pretrained inception_v3 weights are not in the local cache" in result.stderr
    assert "fetch model.safetensors from https://huggingface.co/timm/inception_v3.tv_in1k" in result.stderr
    assert "backbone.pretrained=false" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_vit_saved_at_another_size_loads_with_its_position_embedding_resampled(tmp_path):
    """timm's conversion for the family, as for hub weights: 224 px weights (14 x 14 patches) into a 64 px ViT."""
    torch.manual_seed(0)
    saved = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0).state_dict()
    save_file(saved, str(tmp_path / "vit.safetensors"))
    model = create_backbone("vit_tiny_patch16_224", pretrained=False, weights=str(tmp_path / "vit.safetensors"),
                            image_size=64, model_kwargs=None)  # fmt: skip
    assert model.pos_embed.shape == (1, 1 + 4 * 4, 192)
    assert torch.equal(model.blocks[0].attn.qkv.weight, saved["blocks.0.attn.qkv.weight"])
    assert torch.equal(model.pos_embed[:, 0], saved["pos_embed"][:, 0])  # the class token's embedding is kept


def test_an_unreachable_hub_is_said_within_seconds_naming_the_file_to_fetch(tmp_path, monkeypatch):
    """Not in offline mode, an empty cache, and the hub's port closed: the hub client would retry for over a
    minute; the run stops at once and says which repository and file to fetch."""
    import huggingface_hub.constants

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # whatever the user's environment says
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    for variable in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    arguments = ["experiment=quickstart", "backbone=resnet50", "backbone.pretrained=true", f"paths.data_dir={tmp_path}"]
    arguments += ["data.source.train_per_class=2", "data.source.test_per_class=1", f"hydra.run.dir={tmp_path / 'run'}"]
    start = time.monotonic()
    result = run_entry_point("train.py", *arguments)
    assert time.monotonic() - start < 10
    assert result.returncode == 1
    assert "Could not reach the Hugging Face hub" in result.stderr
    assert f"model.safetensors from http://127.0.0.1:{port}/timm/resnet50.a1_in1k" in result.stderr
    assert "Traceback" not in result.stderr


class NotATensor:
    """Any class outside torch's allow-list: loading it would run arbitrary unpickling code."""


def test_a_weights_file_that_needs_unpickling_code_is_refused(tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1), "extra": NotATensor()}, path)
    model = create_backbone("inception_v3", pretrained=False, weights=None, image_size=None, model_kwargs=None)
    with pytest.raises(WeightsError) as error:
        load_backbone_weights(model, path)
    assert str(path) in str(error.value)
    assert ".safetensors" in str(error.value)
