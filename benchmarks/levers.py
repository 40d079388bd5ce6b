"""Each lever of issue 19 against the same run without it, on a small, unbalanced folder with a colour nuisance.

    python benchmarks/levers.py                                  # every lever, seeds 0 1 2
    python benchmarks/levers.py --levers baseline colour --seeds 0 --epochs 4

Writes a folder of shape images (`inception_tl.data.sources.shapes.draw_shape`): 4 classes with 300, 150, 80
and 40 training images (7.5:1 between the largest and the smallest) and 40 balanced test images each. In
training, half of each class's images are tinted 30% towards a colour of that class (a shortcut the test
images do not have: they are untinted). Then it trains `experiment=quickstart` (inception_v3 from scratch, 75 px, on the
CPU) on it once per lever and seed with `train.py`, each in its own process, and prints test accuracy, macro
F1, ECE and NLL (before the temperature; and ECE after it, `calibration=temperature` being on in every run):
the mean and the spread (min to max) over the seeds. Every row's figures go to `<out>/levers.csv`; runs already
finished in `--out` are read back, so an interrupted measurement goes on where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from inception_tl.data.sources.shapes import draw_shape

REPO = Path(__file__).resolve().parents[1]
CLASSES = ("circle", "square", "triangle", "star")
TRAIN_COUNTS = (300, 150, 80, 40)
TEST_PER_CLASS = 40
TINTS = ((230, 40, 40), (40, 200, 40), (40, 80, 230), (230, 200, 30))
TINTED_SHARE = 0.5
TINT_STRENGTH = 0.3
SIZE = 96

COLOUR = [
    "data.augment.brightness=0.4",
    "data.augment.contrast=0.4",
    "data.augment.saturation=0.4",
    "data.augment.hue=0.1",
    "data.augment.greyscale=0.2",
]
POLICY = ["data.augment.policy=trivial", "data.augment.erase=0.25"]
MIXUP = ["mixup.mixup_alpha=0.2", "mixup.cutmix_alpha=1.0"]
EMA = ["callbacks=ema"]
CLASS_WEIGHTS = ["loss.class_weights=balanced"]
LEVERS: dict[str, list[str]] = {
    "baseline": [],
    "colour": COLOUR,
    "policy+erase": POLICY,
    "mixup+cutmix": MIXUP,
    "ema": EMA,
    "class_weights": CLASS_WEIGHTS,
    "weighted_sampler": ["data.balance=weighted"],
    "all": COLOUR + POLICY + MIXUP + EMA + CLASS_WEIGHTS,
}


def write_folder(root: Path) -> None:
    """The unbalanced, tinted folder (written once; the same files every time)."""
    marker = root / ".levers.json"
    params = {"train": TRAIN_COUNTS, "test": TEST_PER_CLASS, "tint": TINTED_SHARE, "strength": TINT_STRENGTH}
    if marker.is_file() and json.loads(marker.read_text()) == json.loads(json.dumps(params)):
        return
    for split, counts in (("train", TRAIN_COUNTS), ("test", (TEST_PER_CLASS,) * len(CLASSES))):
        for index, (shape, count) in enumerate(zip(CLASSES, counts, strict=True)):
            folder = root / split / shape
            folder.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng([split == "test", index])
            for number in range(count):
                pixels = np.asarray(draw_shape(shape, SIZE, rng), dtype=np.float32)
                if split == "train" and rng.random() < TINTED_SHARE:
                    pixels = (1 - TINT_STRENGTH) * pixels + TINT_STRENGTH * np.array(TINTS[index], np.float32)
                Image.fromarray(pixels.round().astype(np.uint8)).save(folder / f"{number:04d}.png")
    marker.write_text(json.dumps(params))


def train(root: Path, run_dir: Path, lever: str, seed: int, epochs: int, threads: int) -> dict[str, float]:
    """One train.py run's test metrics and report summary; a run already finished in `run_dir` is read back."""
    finished = run_dir / "levers.json"
    if finished.is_file():
        return json.loads(finished.read_text())
    shutil.rmtree(run_dir, ignore_errors=True)  # an interrupted run starts again
    command = [
        sys.executable, "train.py", "experiment=quickstart", "data=imagefolder", f"data.root={root}",
        "data.val_split=0.2", "data.batch_size=32", f"trainer.max_epochs={epochs}", f"seed={seed}",
        "figures=false", f"hydra.run.dir={run_dir}", *LEVERS[lever],
    ]  # fmt: skip
    start = time.perf_counter()
    environment = os.environ | {"OMP_NUM_THREADS": str(threads)}
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise SystemExit(f"{lever}, seed {seed} failed:\n{' '.join(command)}\n{result.stderr[-3000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    report = json.loads((run_dir / "report" / "per_class.json").read_text())
    row = {
        "acc": metrics["test/acc"],
        "f1": metrics["test/f1"],
        "ece_raw": report.get("ece_uncalibrated", report["ece"]),
        "ece_calibrated": report["ece"],
        "nll_raw": report.get("nll_uncalibrated", report["nll"]),
        "temperature": report.get("temperature", 1.0),
        "seconds": time.perf_counter() - start,
    }
    finished.write_text(json.dumps(row))
    return row


def summary(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levers", nargs="+", choices=list(LEVERS), default=list(LEVERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "levers")
    # Runs side by side, each with its share of the cores: a small batch uses one core better than two.
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()

    root = args.out / "data"
    write_folder(root)
    threads = max((os.cpu_count() or 1) // args.parallel, 1)

    def one(lever: str, seed: int) -> dict[str, object]:
        figures = train(root, args.out / f"{lever}-{seed}", lever, seed, args.epochs, threads)
        row = {"lever": lever, "seed": seed} | figures
        print(", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
        return row

    with ThreadPoolExecutor(args.parallel) as pool:
        runs = [pool.submit(one, lever, seed) for lever in args.levers for seed in args.seeds]
        rows = [run.result() for run in runs]
    with open(args.out / "levers.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    print(f"\n{len(args.seeds)} seeds, {args.epochs} epochs; mean (min-max)")
    columns = ("acc", "f1", "ece_raw", "ece_calibrated", "nll_raw")
    print(f"{'lever':<18}" + "".join(f"{c:>22}" for c in columns))
    for lever in args.levers:
        mine = [row for row in rows if row["lever"] == lever]
        print(f"{lever:<18}" + "".join(f"{summary([row[c] for row in mine]):>22}" for c in columns))


if __name__ == "__main__":
    main()
