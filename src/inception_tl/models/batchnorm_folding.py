"""Fold each inference-mode BatchNorm into the convolution before it, for export.

Every BatchNorm of the three Inception backbones sits in a timm `ConvNormAct` block: a convolution
without bias, then `BatchNormAct2d` (normalisation, then ReLU). In eval mode the normalisation is a
fixed affine map per channel, which torch's `fuse_conv_bn_eval` moves into the convolution's weight
and bias. The graph loses a third of its operators, and the ONNX exporter, which decomposes each
BatchNorm into half a dozen operators and traces every one, takes 40 to 45 percent less time (on one
CPU core: Inception-v3 10 s instead of 19 s, Inception-ResNet-v2 23 s instead of 37 s). Inference
costs the same: the convolutions dominate, and ONNX Runtime folds BatchNorm itself at load time.
"""

from __future__ import annotations

from timm.layers import ConvNormAct
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batchnorm(model: nn.Module) -> None:
    """Fold, in place, the BatchNorm of every eval-mode `ConvNormAct` of `model`.

    The block's activation (and dropout, an identity in eval mode) stays where the BatchNorm was.
    """
    for block in model.modules():
        norm = getattr(block, "bn", None)
        if not isinstance(block, ConvNormAct) or not isinstance(norm, nn.BatchNorm2d):
            continue
        if norm.training or norm.running_mean is None or not isinstance(block.conv, nn.Conv2d):
            continue  # batch statistics are not a fixed map: nothing to fold
        block.conv = fuse_conv_bn_eval(block.conv, norm)
        block.bn = nn.Sequential(*(getattr(norm, name) for name in ("drop", "act") if hasattr(norm, name)))
