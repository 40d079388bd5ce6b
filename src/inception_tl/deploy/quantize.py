"""An int8 ONNX model from the fp32 one: ONNX Runtime's static quantization, calibrated on training images.

Static (activations' ranges fixed from calibration batches) rather than dynamic: ONNX Runtime's dynamic mode
quantizes MatMul and Gemm only, which leaves an Inception network's convolutions, nearly all its work, in fp32.
QDQ format with per-channel weights, as ONNX Runtime recommends for CNNs on the CPU. The normalisation at the
input and the softmax or sigmoid at the output stay fp32: quantizing them saves nothing and costs accuracy.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

# The layers whose arithmetic is quantized; the others (Add, Concat, pooling) run on the int8 tensors in QDQ form.
QUANTIZED_OPS = ["Conv", "Gemm", "MatMul"]


def calibration_reader(batches: Iterable[np.ndarray], input_name: str) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches: Iterator[np.ndarray] = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {input_name: batch}

    return Batches()


@contextlib.contextmanager
def quiet_quantizer() -> Iterator[None]:
    """ONNX Runtime's quantizer logs each pre-processing step and a recommendation per call at INFO/WARNING."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_int8(fp32_path: Path, int8_path: Path, calibration: Iterable[np.ndarray]) -> dict[str, Any]:
    """Write the int8 model; returns what model.json says of it."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as scratch, quiet_quantizer():
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared))  # shape inference and graph clean-up, as ORT advises
        counted = CountedBatches(calibration)
        quantize_static(
            str(prepared),
            str(int8_path),
            calibration_reader(counted, "images"),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=QUANTIZED_OPS,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    return {
        "type": "int8",
        "file": int8_path.name,
        "method": "ONNX Runtime static quantization, QDQ, per-channel int8 weights, uint8 activations, min-max "
        "calibration",
        "calibration_images": counted.images,
        "quantized_ops": QUANTIZED_OPS,
        "kept_fp32": "the input normalisation and the output softmax / sigmoid",
    }


class CountedBatches:
    """The calibration batches, counting the images that pass."""

    def __init__(self, batches: Iterable[np.ndarray]) -> None:
        self.batches, self.images = batches, 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for batch in self.batches:
            self.images += len(batch)
            yield batch
