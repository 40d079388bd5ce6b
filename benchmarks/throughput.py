"""Where the time of a training step goes: the model alone, the data path alone, both in a plain loop, Lightning.

    python benchmarks/throughput.py                                   # the default training config
    python benchmarks/throughput.py experiment=quickstart bench.steps=10
    python benchmarks/throughput.py backbone=inception_v4 data=shapes data.source.image_size=300 \\
        data.source.train_per_class=512 data.batch_size=128 data.num_workers=15 backbone.pretrained=false

Composed by Hydra like train.py (conf/throughput.yaml = conf/train.yaml + `bench`), so any backbone,
data, batch size and precision. For the warm-up phase (backbone frozen) and the full phase it measures:

- model: images/s of forward, backward and optimizer step on batches already on the device (the ceiling);
- loader: images/s of the real training loader alone (worker processes, collation, pinning);
- data: the same with the transfer to the device and the device augmentation;
- loop: images/s of a plain PyTorch loop over that loader and the model (what the data path allows);
- lightning: images/s of a real `Trainer.fit` epoch over the same (Lightning's overhead against `loop`);
- syncs: host synchronisations per training step of a real `Trainer.fit` (each makes the host wait for the
  device; `inception_tl.training.host_syncs` counts them), between logging intervals and at them;
- peak device memory and the model's FLOP/s at the `model` rate.

Once, with the backbone's weights as trained: `predict`, images/s of `predict.py`'s path (files decoded in the
loader workers, cut and normalised on the device, the model under the run's precision) over the validation
and test images at `bench.predict_batch_size`, against the model alone on batches already on the device.

With `bench.whole_run`, a one-epoch `train.run` also gives the time from the command to the first step
and from the last step to the end (validation and test of the best checkpoint, the report). Prints a
table and writes everything, with the versions and the device, to `bench.output` (JSON).
"""

# ruff: noqa: E402 (the clock starts before the heavy imports: "command to first step" includes them)
from __future__ import annotations

import time

START = time.perf_counter()

import json
import os
import platform
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import hydra
import lightning as L
import timm
import torch
import torch.nn.functional as F
from lightning.fabric.utilities.apply_func import move_data_to_device
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, OmegaConf, open_dict
from torch.utils.flop_counter import FlopCounterMode

from inception_tl.config.instantiate import instantiate
from inception_tl.config.schema import register_schemas
from inception_tl.data import ImageDataModule
from inception_tl.evaluation.file_predictions import predict_files
from inception_tl.models import ImageClassifier
from inception_tl.models.build import build_model
from inception_tl.tasks.train import run as train_run
from inception_tl.training.callbacks import FreezeScheduleCallback
from inception_tl.training.callbacks.step_seed import StepSeed
from inception_tl.training.host_syncs import counting_host_syncs
from inception_tl.training.trainer import autocast, resolve_precision

register_schemas()
IMPORTED = time.perf_counter()

PHASES = {"warmup": {"strategy": "linear_probe"}, "full": {"strategy": "full"}}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(step: Callable[[], int], device: torch.device, warmup: int, steps: int) -> float:
    """Run `step` (returning its batch size) `warmup` times untimed, then `steps` times timed."""
    for _ in range(warmup):
        step()
    synchronize(device)
    start, images = time.perf_counter(), 0
    for _ in range(steps):
        images += step()
    synchronize(device)
    return images / (time.perf_counter() - start)


class Stepper:
    """One training step of `model` under the run's precision (autocast, and a GradScaler for fp16)."""

    def __init__(self, model: ImageClassifier, precision: str) -> None:
        self.model, self.device, self.precision = model, model.device, precision
        self.scaler = torch.amp.GradScaler(enabled=str(precision) == "16-mixed" and self.device.type == "cuda")
        self.optimizer = model.build_optimizer()

    def __call__(self, inputs: torch.Tensor, labels: torch.Tensor) -> int:
        with autocast(self.precision, self.device):
            loss = F.cross_entropy(self.model(inputs), labels)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return len(labels)

    def flops(self, inputs: torch.Tensor, labels: torch.Tensor) -> int:
        """Floating-point operations of one step's forward and backward (torch's FLOP counter)."""
        counter = FlopCounterMode(display=False)
        with counter:
            self(inputs, labels)
        return counter.get_total_flops()


def loader_batches(datamodule: ImageDataModule) -> Iterator[dict[str, torch.Tensor]]:
    """The training loader's batches as the workers hand them over (uint8 pixels, warps), endlessly."""
    epoch = 0
    while True:
        loader = datamodule.loader("train")
        loader.sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def device_batches(datamodule: ImageDataModule, device: torch.device) -> Iterator[tuple[torch.Tensor, ...]]:
    """The training loader's batches, moved to `device` and normalised/augmented there, endlessly."""
    for batch in loader_batches(datamodule):
        yield datamodule.on_after_batch_transfer(move_data_to_device(batch, device), 0)


class BatchTimer(Callback):
    """Times training batches `skip` and onwards in a real fit (cuda-synchronised)."""

    def __init__(self, skip: int) -> None:
        self.skip, self.start, self.end, self.images = skip, 0.0, 0.0, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if batch_idx == self.skip:
            synchronize(pl_module.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if batch_idx >= self.skip:
            self.images += len(batch[1])
            synchronize(pl_module.device)
            self.end = time.perf_counter()


def phase_model(cfg: DictConfig, datamodule: ImageDataModule, phase: str, device: torch.device) -> ImageClassifier:
    with open_dict(cfg):
        cfg.finetune = OmegaConf.create({**OmegaConf.to_container(cfg.finetune), **PHASES[phase]})
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, datamodule).to(device)
    model.set_frozen_stages(model.freeze_schedule.frozen_stages(0))
    return model.train()


def measure_model(cfg: DictConfig, datamodule: ImageDataModule, stepper: Stepper) -> dict[str, Any]:
    """Training steps on one batch already on the device: the ceiling; with peak memory and FLOP/s."""
    device, batch_size, size = stepper.device, datamodule.batch_size, datamodule.image_size
    inputs = torch.randn(batch_size, 3, size, size, device=device)
    labels = torch.randint(0, len(datamodule.class_names), (batch_size,), device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rate = images_per_second(lambda: stepper(inputs, labels), device, cfg.bench.warmup_steps, cfg.bench.steps)
    flops = stepper.flops(inputs, labels) / batch_size
    return {
        "model_images_per_s": rate,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        "model_gflop_per_image": flops / 1e9,
        "model_tflop_per_s": flops * rate / 1e12,
    }


def bench_trainer(cfg: DictConfig, model: ImageClassifier, steps: int, *callbacks: Callback) -> L.Trainer:
    """A quiet Trainer of one epoch of `steps` training batches, as train.py runs them."""
    return L.Trainer(
        accelerator=model.device.type,
        devices=1,
        precision=resolve_precision(cfg.trainer.precision),
        max_epochs=1,
        limit_train_batches=steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        benchmark=cfg.trainer.get("benchmark"),
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        callbacks=[FreezeScheduleCallback(), StepSeed(cfg.seed), *callbacks],
    )


def measure_lightning(cfg: DictConfig, datamodule: ImageDataModule, model: ImageClassifier) -> float:
    """images/s of the training batches of a real `Trainer.fit` epoch, after the untimed first ones."""
    warmup, steps = cfg.bench.warmup_steps, cfg.bench.steps
    timer = BatchTimer(skip=warmup)
    trainer = bench_trainer(cfg, model, warmup + steps, timer)
    trainer.fit(model, datamodule=datamodule)
    if timer.images == 0:
        raise SystemExit(
            f"An epoch has {trainer.num_training_batches} training batches, not the bench.warmup_steps + "
            f"bench.steps = {warmup + steps} a timed fit needs: use more images or fewer steps."
        )
    return timer.images / (timer.end - timer.start)


class StepLabels(Callback):
    """Labels a `HostSyncCounter`'s events with the training step they happen in or after (1, 2, ...)."""

    def __init__(self, counter: Any) -> None:
        self.counter, self.step = counter, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self.step += 1
        self.counter.label = self.step


def measure_syncs(cfg: DictConfig, datamodule: ImageDataModule, model: ImageClassifier) -> dict[str, float]:
    """Host synchronisations per training step of a real fit, apart from the steps Lightning logs at (every
    `trainer.log_every_n_steps`), and at those; counted untimed (the counter slows every operation)."""
    every = cfg.trainer.log_every_n_steps
    trainer = bench_trainer(cfg, model, max(cfg.bench.steps, every + 1))
    with counting_host_syncs(trainer.strategy) as counter:
        trainer.callbacks.insert(0, StepLabels(counter))
        trainer.fit(model, datamodule=datamodule)
    counts, steps = counter.counts(), trainer.global_step  # one epoch: its last step also reads back
    logged = [step for step in range(1, steps + 1) if step % every == 0 or step == steps]
    others = [step for step in range(1, steps + 1) if step not in logged]
    return {
        "host_syncs_per_step": sum(counts[step] for step in others) / max(len(others), 1),
        "host_syncs_per_logged_step": sum(counts[step] for step in logged) / len(logged),
    }


def measure_phase(cfg: DictConfig, datamodule: ImageDataModule, phase: str, device: torch.device) -> dict[str, Any]:
    """The figures of `bench.measure` for one phase (warmup: backbone frozen; full: everything trains)."""
    warmup, steps, measure = cfg.bench.warmup_steps, cfg.bench.steps, set(cfg.bench.measure)
    result: dict[str, Any] = {}
    stepper = Stepper(phase_model(cfg, datamodule, phase, device), resolve_precision(cfg.trainer.precision))
    if "model" in measure:
        result |= measure_model(cfg, datamodule, stepper)
    if "loader" in measure:
        raw = loader_batches(datamodule)
        cpu = torch.device("cpu")
        result["loader_images_per_s"] = images_per_second(lambda: len(next(raw)["labels"]), cpu, warmup, steps)
        raw.close()
    batches = device_batches(datamodule, device)
    if "data" in measure:
        result["data_images_per_s"] = images_per_second(lambda: len(next(batches)[1]), device, warmup, steps)
    if "loop" in measure:

        def loop_step() -> int:
            images, targets, _ = next(batches)
            return stepper(images, targets)

        result["loop_images_per_s"] = images_per_second(loop_step, device, warmup, steps)
    batches.close()
    if "lightning" in measure:
        result["lightning_images_per_s"] = measure_lightning(
            cfg, datamodule, phase_model(cfg, datamodule, phase, device)
        )
        for other in ("loop", "model"):
            if f"{other}_images_per_s" in result:
                result[f"lightning_vs_{other}"] = result["lightning_images_per_s"] / result[f"{other}_images_per_s"]
    if "syncs" in measure:
        result |= measure_syncs(cfg, datamodule, phase_model(cfg, datamodule, phase, device))
    return result


def measure_predict(cfg: DictConfig, datamodule: ImageDataModule, device: torch.device) -> dict[str, float]:
    """images/s of predict.py's path over the evaluation images, and of the model alone at the same batch size
    (inference on batches already on the device); repeated until `bench.steps` batches have been classified."""
    model = phase_model(cfg, datamodule, "warmup", device).eval()
    precision, batch_size = resolve_precision(cfg.trainer.precision), cfg.bench.predict_batch_size
    paths = [Path(path) for split in ("val", "test") for path, _ in datamodule.samples.get(split, [])]
    paths = (paths * (cfg.bench.steps * batch_size // len(paths) + 1))[: cfg.bench.steps * batch_size]

    def classify(files: list[Path]) -> int:
        predict_files(
            model,
            files,
            model.hparams.preprocessing,
            model.class_names,
            batch_size=batch_size,
            num_workers=datamodule.num_workers,
            tta=False,
            precision=precision,
        )
        return len(files)

    synchronize(device)
    classify(paths[:batch_size])  # untimed: workers, cuDNN autotuning
    rate = images_per_second(lambda: classify(paths), device, 0, 1)
    inputs = torch.randn(batch_size, 3, datamodule.image_size, datamodule.image_size, device=device)

    @torch.inference_mode()
    def infer() -> int:
        with autocast(precision, device):
            model(inputs)
        return batch_size

    inference = images_per_second(infer, device, cfg.bench.warmup_steps, cfg.bench.steps)
    return {"predict_images_per_s": rate, "inference_images_per_s": inference, "predict_vs_inference": rate / inference}


class RunTimes(Callback):
    """Wall-clock moments of a whole run: its first training step and the end of its last."""

    instances: ClassVar[list[RunTimes]] = []  # made by Hydra inside train.run: found here afterwards

    def __init__(self) -> None:
        self.first_step: float | None = None
        self.last_step_end = 0.0
        RunTimes.instances.append(self)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if self.first_step is None:
            self.first_step = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        synchronize(pl_module.device)
        self.last_step_end = time.perf_counter()


def measure_whole_run(cfg: DictConfig) -> dict[str, float]:
    """One epoch of `train.run` with this config: how long until the first step, and after the last."""
    with open_dict(cfg):
        cfg.trainer.max_epochs = 1
        cfg.callbacks.run_times = {"_target_": f"{__name__}.RunTimes"}
    start = time.perf_counter()
    train_run(cfg)
    end = time.perf_counter()
    times = RunTimes.instances[-1]
    # As `python train.py` would: its imports (timed at this script's start), then the run itself.
    to_first_step = (IMPORTED - START) + (times.first_step - start)
    return {
        "imports_s": IMPORTED - START,
        "to_first_step_s": to_first_step,
        "after_last_step_s": end - times.last_step_end,
    }


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "cpu"


def environment(device: torch.device) -> dict[str, Any]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    return {
        "device": name,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "timm": timm.__version__,
        "lightning": L.__version__,
        "python": platform.python_version(),
    }


def print_table(report: dict[str, Any]) -> None:
    settings = report["settings"]
    print(
        f"\n{settings['backbone']}, {settings['image_size']} px, batch {settings['batch_size']}, "
        f"{settings['precision']}, channels_last={settings['channels_last']}, on {report['environment']['device']}"
    )
    columns = ("model", "loader", "data", "loop", "lightning")
    header = (
        "".join(f"{c + ' img/s':>16}" for c in columns) + f"{'lightning/loop':>16}{'TFLOP/s':>10}{'syncs/step':>12}"
    )
    print(f"{'phase':<8}" + header)
    for phase, figures in report["phases"].items():
        cells = [figures.get(f"{c}_images_per_s") for c in columns]
        cells += [
            figures.get("lightning_vs_loop"),
            figures.get("model_tflop_per_s"),
            figures.get("host_syncs_per_step"),
        ]
        widths = [16] * (len(columns) + 1) + [10, 12]
        print(
            f"{phase:<8}"
            + "".join(f"{'-' if v is None else f'{v:.2f}':>{w}}" for v, w in zip(cells, widths, strict=True))
        )
    if "predict" in report:
        figures = report["predict"]
        print(
            f"predict.py: {figures['predict_images_per_s']:.2f} images/s, the model alone "
            f"{figures['inference_images_per_s']:.2f} ({figures['predict_vs_inference']:.2f}x)"
        )
    if "whole_run" in report:
        run = report["whole_run"]
        print(
            f"whole run: {run['to_first_step_s']:.1f} s from the command to the first step, "
            f"{run['after_last_step_s']:.1f} s after the last step (validation, test, report)"
        )


@hydra.main(version_base="1.3", config_path="../conf", config_name="throughput")
def main(cfg: DictConfig) -> None:
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.trainer.accelerator != "cpu" else "cpu")
    datamodule: ImageDataModule = instantiate(cfg.data, backbone=cfg.backbone.name)
    data_report = datamodule.setup_data()
    report: dict[str, Any] = {
        "environment": environment(device),
        "settings": {
            "backbone": cfg.backbone.name,
            "image_size": datamodule.image_size,
            "batch_size": datamodule.batch_size,
            "num_workers": datamodule.num_workers,
            "precision": resolve_precision(cfg.trainer.precision),
            "channels_last": cfg.channels_last,
            "cache": data_report.storage,
            "steps": cfg.bench.steps,
        },
        "phases": {phase: measure_phase(cfg, datamodule, phase, device) for phase in cfg.bench.phases},
    }
    if "predict" in cfg.bench.measure:
        report["predict"] = measure_predict(cfg, datamodule, device)
    if cfg.bench.whole_run:
        report["whole_run"] = measure_whole_run(cfg)
    output = Path(cfg.bench.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"Wrote {output}")


if __name__ == "__main__":
    main()
