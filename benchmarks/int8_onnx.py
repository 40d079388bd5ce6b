"""fp32 ONNX against int8 ONNX of one checkpoint, side by side on its test split: accuracy, macro F1, CPU images/s.

    python benchmarks/int8_onnx.py --ckpt outputs/quickstart/<run>/checkpoints/best.ckpt

Exports the checkpoint as `export.py format=onnx quantize=int8` does (the int8 model calibrated on
`--calibration-images` training images), then runs both with ONNX Runtime's CPU provider on the checkpoint's test
split (its own data, rebuilt from the checkpoint as eval.py does), in batches of `--batch-size`, with
`--threads` intra-op threads (0: ONNX Runtime's default, every core). Single-label checkpoints.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def macro_f1(predicted: np.ndarray, labels: np.ndarray, classes: int) -> float:
    scores = []
    for k in range(classes):
        tp = np.sum((predicted == k) & (labels == k))
        fp, fn = np.sum((predicted == k) & (labels != k)), np.sum((predicted != k) & (labels == k))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores))


def run(session, images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([session.run(None, {"images": images[i : i + batch_size]})[0]
                           for i in range(0, len(images), batch_size)])


def images_per_s(session, images: np.ndarray, batch_size: int, repeats: int) -> float:
    run(session, images[:batch_size], batch_size)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        run(session, images, batch_size)
    return repeats * len(images) / (time.perf_counter() - start)


def main(argv: Sequence[str] | None = None) -> None:
    import onnxruntime

    from inception_tl.deploy.quantize import quantize_int8
    from inception_tl.deploy.unit_images import unit_images
    from inception_tl.evaluation.checkpoint_data import checkpoint_datamodule
    from inception_tl.models.loading import load_classifier
    from inception_tl.tasks.export import calibration_batches, export_classifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--calibration-images", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    classifier = load_classifier(args.ckpt)
    datamodule = checkpoint_datamodule(classifier, None)
    test = datamodule.samples["test"]
    images = np.concatenate(list(unit_images([path for path, _ in test], classifier.hparams.preprocessing, 64)))
    labels = np.array([label for _, label in test])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        fp32_path = export_classifier(classifier, "onnx", folder)
        card = quantize_int8(fp32_path, folder / "model.int8.onnx",
                             calibration_batches(classifier, args.calibration_images))
        rows = []
        for name, path in (("fp32", fp32_path), ("int8", folder / "model.int8.onnx")):
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            predicted = run(session, images, args.batch_size).argmax(1)
            rate = images_per_s(session, images, args.batch_size, args.repeats)
            size = path.stat().st_size / 2**20
            rows.append((name, (predicted == labels).mean(), macro_f1(predicted, labels, len(classifier.class_names)),
                         rate, size))
    print(f"{classifier.hparams.backbone['name']} on {len(labels)} test images; int8 calibrated on "
          f"{card['calibration_images']} training images; batch {args.batch_size}, onnxruntime "
          f"{onnxruntime.__version__}, CPU provider")
    print("| model | accuracy | macro F1 | images/s (CPU) | file MB |")
    print("| --- | --- | --- | --- | --- |")
    for name, accuracy, f1, rate, size in rows:
        print(f"| {name} | {accuracy:.3f} | {f1:.3f} | {rate:.0f} | {size:.1f} |")
    print(f"int8 / fp32: {rows[1][3] / rows[0][3]:.2f}x images/s, {100 * (rows[1][1] - rows[0][1]):+.1f} points")


if __name__ == "__main__":
    main()
