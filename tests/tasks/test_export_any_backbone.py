"""The architectures of conf/backbone/ beyond Inception (resnet50 and xception41 aside, below) export to ONNX and
TorchScript with PyTorch's probabilities (within 1e-4), the calibration's temperature included. (A file of its own:
pytest-xdist gives each file to one process, and these exports are the suite's longest.)

Each model is built with each of its kinds of blocks once (tests.helpers.drop_repeated_blocks): the same layers
and operators, a fraction of the ONNX exporter's time (it traces every operator of every block).
"""

import numpy as np
import onnxruntime
import pytest
import torch

from inception_tl.tasks.export import export_classifier
from tests.helpers import BACKBONE_SIZES, drop_repeated_blocks, model_for

# Two export nothing the others do not (test_any_backbone.py still trains both): resnet50's convolutions,
# BatchNorm, max pool and residual adds are Inception-ResNet-v2's (tests/tasks/test_export.py), xception41's
# separable convolutions mobilenetv3's depthwise and pointwise ones.
SIZES = {name: size for name, size in BACKBONE_SIZES.items() if name not in ("resnet50", "xception41")}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SIZES))
def test_exported_onnx_and_torchscript_give_pytorchs_probabilities(name, tmp_path):
    model = drop_repeated_blocks(model_for(name), SIZES[name]).eval()
    images = torch.rand(3, 3, SIZES[name], SIZES[name])
    mean = torch.tensor(model.hparams.preprocessing["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(model.hparams.preprocessing["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = model((images - mean) / std)
        # Random weights give saturated probabilities; a temperature (which the export carries) spreads them.
        model.set_temperature(float(logits.abs().max()) / 2)
        expected = model((images - mean) / std).softmax(dim=1).numpy()
    assert expected.min() > 0.01
    assert expected.max() < 0.99

    onnx_path = export_classifier(model, "onnx", tmp_path / "onnx")
    exported = onnxruntime.InferenceSession(str(onnx_path)).run(None, {"images": images.numpy()})[0]
    np.testing.assert_allclose(exported, expected, atol=1e-4, rtol=0)
    traced = torch.jit.load(str(export_classifier(model, "torchscript", tmp_path / "torchscript")))
    np.testing.assert_allclose(traced(images).detach().numpy(), expected, atol=1e-4, rtol=0)
