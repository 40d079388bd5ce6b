"""Exported ONNX and TorchScript models, BatchNorm folded into the convolutions, give PyTorch's probabilities
(within 1e-4) for every backbone: each of its kinds of blocks, once (tests.helpers.drop_repeated_blocks)."""

import copy
import functools
import json

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from inception_tl.errors import ConfigError
from inception_tl.tasks.export import ExportableClassifier, export_classifier, model_card
from tests.helpers import calibrated_classifier

BACKBONES = ["inception_v3", "inception_v4", "inception_resnet_v2"]


# test_train_cli exports its trained inception_v3 to ONNX and checks the same parity (an ONNX export costs
# half a minute on 2 cores, so it is not done twice).
CASES = [(backbone, format_) for backbone in BACKBONES for format_ in ("onnx", "torchscript")]
CASES.remove(("inception_v3", "onnx"))


@functools.cache
def classifier_for(backbone: str):
    # Without repeated blocks (each kind of block once): test_train_cli exports the whole trained inception_v3.
    return calibrated_classifier(backbone, ["cat", "dog", "fox"], repeated_blocks=False)


def pytorch_probabilities(classifier, images: torch.Tensor) -> np.ndarray:
    """The checkpoint's own forward on normalised images: what eval.py and predict.py compute."""
    mean = torch.tensor(classifier.hparams.preprocessing["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(classifier.hparams.preprocessing["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        return classifier((images - mean) / std).softmax(dim=1).numpy()


def float32_error(classifier, images: torch.Tensor, expected: np.ndarray) -> float:
    """How far PyTorch's own float32 result is from the float64 one: the noise floor of any fp32 engine."""
    exact = copy.deepcopy(ExportableClassifier(classifier)).double()
    with torch.no_grad():
        return float(np.abs(exact(images.double()).numpy() - expected).max())


@functools.cache
def reference(backbone: str) -> tuple[torch.Tensor, np.ndarray, float]:
    """Images, PyTorch's probabilities for them and the tolerance of the comparison: the same for both formats."""
    classifier = classifier_for(backbone)
    torch.manual_seed(1)
    images = torch.rand(3, 3, 75, 75)  # another batch size than the export example: the batch axis is dynamic
    expected = pytorch_probabilities(classifier, images)
    # 1e-4, unless float32 itself cannot resolve that: with random weights Inception-v4's float32 result can
    # be up to ~5e-4 from the exact one, and ONNX Runtime's kernels round differently from PyTorch's.
    tolerance = max(1e-4, 2 * float32_error(classifier, images, expected))
    return images, expected, tolerance


@pytest.mark.slow
@pytest.mark.parametrize(("backbone", "format_"), CASES)
def test_exported_model_matches_pytorch(backbone, format_, tmp_path):
    classifier = classifier_for(backbone)
    batchnorms = sum(isinstance(module, torch.nn.BatchNorm2d) for module in classifier.modules())
    path = export_classifier(classifier, format_, tmp_path)
    # Folded into the convolutions in a copy: the exported graph has no BatchNorm, the classifier keeps its own.
    assert sum(isinstance(module, torch.nn.BatchNorm2d) for module in classifier.modules()) == batchnorms > 30
    images, expected, tolerance = reference(backbone)
    assert expected.max() < 0.999  # not saturated: the comparison means something
    if format_ == "onnx":
        assert "BatchNormalization" not in {node.op_type for node in onnx.load(str(path)).graph.node}
        session = onnxruntime.InferenceSession(str(path))
        exported = session.run(None, {"images": images.numpy()})[0]
    else:
        traced = torch.jit.load(str(path))
        assert "batch_norm" not in str(traced.inlined_graph)
        exported = traced(images).detach().numpy()
    np.testing.assert_allclose(exported, expected, atol=tolerance, rtol=0)

    card = json.loads((tmp_path / "model.json").read_text())
    assert card["class_names"] == ["cat", "dog", "fox"]
    assert card["preprocessing"]["input_size"] == [3, 75, 75]
    assert card["preprocessing"]["mean"] == [0.5, 0.5, 0.5]


def test_an_unknown_format_lists_the_choices(tmp_path):
    with pytest.raises(ConfigError, match="torchscript"):
        export_classifier(classifier_for("inception_v3"), "tflite", tmp_path)


@pytest.mark.parametrize(("crop_mode", "words"), [("squash", "(stretched)"), ("border", "pad the shorter side")])
def test_model_json_says_how_the_checkpoints_crop_mode_makes_the_input(crop_mode, words):
    classifier = classifier_for("inception_v3")
    classifier.hparams.preprocessing = {**classifier.hparams.preprocessing, "crop_mode": crop_mode}
    card = model_card(classifier, "onnx")
    assert card["preprocessing"]["crop_mode"] == crop_mode
    assert words in card["input"]


def test_a_checkpoint_from_before_crop_modes_exports_as_center():
    classifier = classifier_for("inception_v3")
    classifier.hparams.preprocessing = {
        key: value for key, value in classifier.hparams.preprocessing.items() if key != "crop_mode"
    }
    card = model_card(classifier, "onnx")
    assert card["preprocessing"]["crop_mode"] == "center"
    assert "resize the shorter side" in card["input"]
