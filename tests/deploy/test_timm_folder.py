"""The timm / Hugging Face folder beyond the trained linear head test_train_cli exports: the recipes' MLP head,
the upload, and what a wrong folder or hub name says."""

import json

import numpy as np
import pytest
import timm
import torch
from PIL import Image

import inception_tl
from inception_tl.deploy.hub import push_folder
from inception_tl.deploy.model_card import RunRecord, write_model_card
from inception_tl.errors import ConfigError, WeightsError
from inception_tl.evaluation.file_predictions import predict_files
from inception_tl.models import ImageClassifier
from inception_tl.models.timm_folder import write_timm_folder
from inception_tl.tasks.export import checked_choices
from tests.helpers import compose_config

CLASSES = ["cat", "dog", "fox"]


@pytest.fixture(scope="module")
def mlp_model(tmp_path_factory):
    """An MLP-head Inception-v3 (the Keras recipes' head) with settled BatchNorm statistics, saved as a checkpoint
    and exported as a folder."""
    from inception_tl.data.preprocessing import resolve_preprocessing

    torch.manual_seed(0)
    head = {"kind": "mlp", "hidden": 64, "dropout": 0.5}
    model = ImageClassifier({"name": "inception_v3", "pretrained": False, "head": head}, CLASSES,
                            resolve_preprocessing("inception_v3", 75), temperature=1.7)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(8, 3, 75, 75) * 2 - 1)
    model.eval()
    root = tmp_path_factory.mktemp("mlp")
    checkpoint = root / "best.ckpt"
    torch.save({"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}, checkpoint)
    folder = write_timm_folder(model, root / "folder", inception_tl.__version__)
    write_model_card(model, folder, RunRecord(None), "folder", in_timm=False)
    photos = root / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for index in range(5):
        Image.fromarray(rng.integers(0, 256, (90, 80 + 10 * index, 3), dtype=np.uint8)).save(photos / f"{index}.png")
    return model, checkpoint, folder, sorted(photos.iterdir())


def probabilities(source, photos):
    model = inception_tl.load_model(str(source))
    result = predict_files(model, photos, dict(model.hparams.preprocessing), model.class_names, batch_size=2,
                           num_workers=0, tta=False, precision="32-true")
    return np.stack([result.probabilities[index] for index in range(len(photos))])


def test_an_mlp_head_folder_loads_with_this_package_and_gives_predicts_probabilities(mlp_model):
    _, checkpoint, folder, photos = mlp_model
    assert (folder / "head.safetensors").is_file()
    expected = probabilities(checkpoint, photos)
    assert expected.max() < 0.99  # not saturated
    np.testing.assert_allclose(probabilities(folder, photos), expected, atol=1e-6, rtol=0)
    loaded = inception_tl.load_model(str(folder))
    assert loaded.hparams.temperature == 1.7
    assert loaded.hparams.backbone["head"]["kind"] == "mlp"


def test_plain_timm_loads_an_mlp_folder_as_the_fine_tuned_feature_extractor(mlp_model):
    model, _, folder, _ = mlp_model
    features = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    assert features.num_classes == 0
    images = torch.rand(2, 3, 75, 75)
    with torch.no_grad():
        np.testing.assert_allclose(features(images).numpy(), model.pooled_features(images).numpy(), atol=1e-5)
    card = (folder / "README.md").read_text()
    assert "library_name: inception_tl" in card
    assert "not a timm architecture" in card
    assert "backbone only" in card
    assert "No test metrics were found beside the checkpoint." in card


def test_push_creates_a_private_repository_and_uploads_the_folder(mlp_model, monkeypatch):
    """Everything up to the hub's own calls (the hub cannot be reached here): what they are asked to do."""
    import huggingface_hub

    _, _, folder, _ = mlp_model
    calls = []

    class RecordingApi:
        def __init__(self, **options):
            calls.append(("init", options))

        def create_repo(self, repo_id, **options):
            calls.append(("create_repo", repo_id, options))
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, **options):
            calls.append(("upload_folder", options))

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    assert push_folder(folder, "someone/shapes", private=True) == "https://huggingface.co/someone/shapes"
    assert calls[1] == ("create_repo", "someone/shapes", {"private": True, "exist_ok": True, "repo_type": "model"})
    assert calls[2][1]["repo_id"] == "someone/shapes"
    assert calls[2][1]["folder_path"] == str(folder)


def test_a_failed_upload_says_how_to_log_in_and_that_the_folder_is_kept(mlp_model, monkeypatch):
    import huggingface_hub

    _, _, folder, _ = mlp_model

    class NoLogin:
        def __init__(self, **options):
            pass

        def create_repo(self, repo_id, **options):
            raise RuntimeError("401 Client Error: Unauthorized")

    monkeypatch.setattr(huggingface_hub, "HfApi", NoLogin)
    with pytest.raises(WeightsError, match=r"401 Client Error.*hf auth login.*uploaded again"):
        push_folder(folder, "someone/shapes", private=True)
    with pytest.raises(ConfigError, match="user/name"):
        push_folder(folder, "shapes", private=True)


def test_a_hub_name_that_cannot_be_fetched_is_one_line_naming_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match=r"hf-hub:nobody/missing.*connection"):
        inception_tl.load_model("hf-hub:nobody/missing")


def test_a_folder_that_is_not_an_export_says_what_it_lacks(mlp_model, tmp_path):
    _, _, folder, _ = mlp_model
    with pytest.raises(ConfigError, match=r"no config\.json"):
        inception_tl.load_model(str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    config = json.loads((folder / "config.json").read_text())
    del config["inception_tl"]
    (plain / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="local-dir:"):
        inception_tl.load_model(str(plain))
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_bytes((folder / "config.json").read_bytes())
    (partial / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    with pytest.raises(ConfigError, match=r"head\.safetensors"):
        inception_tl.load_model(str(partial))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["format=torchscript", "quantize=int8"], "applies to format=onnx"),
        (["format=onnx", "push=true", "repo_id=a/b"], "add format=timm"),
        (["format=timm", "push=true"], "add repo_id=user/name"),
        (["format=onnx", "quantize=int8", "calibration_images=0"], "positive number"),
    ],
)
def test_options_of_another_format_stop_the_export(overrides, message):
    cfg = compose_config(["ckpt_path=x", *overrides], config_name="export")
    with pytest.raises(ConfigError, match=message):
        checked_choices(cfg)


def test_a_missing_extra_is_one_line_naming_the_pip_install(monkeypatch):
    import importlib.util

    from inception_tl.tasks.serve import serve

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "litserve" else real(name, *a))
    cfg = compose_config(["ckpt_path=x"], config_name="serve")
    with pytest.raises(ConfigError, match=r'serve.py needs litserve.*pip install "inception_tl\[serve\]"'):
        serve(cfg)
    cfg = compose_config(["ckpt_path=x", "format=onnx", "quantize=int8"], config_name="export")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(ConfigError, match=r'quantize=int8 needs onnxruntime.*inception_tl\[export\]'):
        checked_choices(cfg)


def test_a_hub_name_loads_the_folder_the_hub_client_downloads(mlp_model, monkeypatch):
    """`hf-hub:user/name@revision`: the repository and revision asked of huggingface_hub, and its folder loaded."""
    import huggingface_hub

    _, checkpoint, folder, photos = mlp_model
    asked = []

    def snapshot_download(repo_id, revision=None):
        asked.append((repo_id, revision))
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    np.testing.assert_allclose(probabilities("hf-hub:someone/pets@v1", photos), probabilities(checkpoint, photos),
                               atol=1e-6, rtol=0)
    assert asked == [("someone/pets", "v1")]
