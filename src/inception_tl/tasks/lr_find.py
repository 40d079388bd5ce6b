"""The learning-rate range test as a task (`lr_find.py`): the run's data, model and discriminative rates, the
head's rate swept exponentially (training/callbacks/lr_range_test.py), the loss-vs-rate plot and a suggested
`optim.lr`, printed as a ready-to-run command."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from inception_tl.config.instantiate import config_values, instantiate
from inception_tl.console import console
from inception_tl.errors import TrainingError
from inception_tl.evaluation.plots import lr_range_curve
from inception_tl.models.build import build_model
from inception_tl.training.callbacks import FreezeScheduleCallback
from inception_tl.training.callbacks.lr_range_test import LearningRateRangeTest
from inception_tl.training.callbacks.step_seed import StepSeed
from inception_tl.training.callbacks.steps_bar import StepsBar
from inception_tl.training.trainer import resolve_precision

# What trains in each phase (lr_find.phase, checked when the command is composed); "full" keeps the configured
# rates of the backbone's groups.
RATE_OPTIONS = ("backbone_lr_scale", "lr_decay", "min_lr_scale", "train_bn")


def phase_finetune(finetune: dict[str, Any], phase: str) -> dict[str, Any]:
    """The finetune options for the phase: the backbone frozen (warmup), or all of it released at the
    configured discriminative rates (full)."""
    rates = {key: finetune[key] for key in RATE_OPTIONS if key in finetune}
    return {"strategy": "linear_probe" if phase == "warmup" else "full", **rates}


def suggested_rate(rates: list[float], losses: list[float], smoothing: float = 0.98) -> float:
    """A tenth of the rate where the smoothed loss is lowest (fastai's `lr_min`: the loss is smoothed as fastai
    does, an exponential moving average with bias correction). Steeper-descent rules pick noise on the flat
    curves of a model that has not started learning."""
    finite = [(rate, loss) for rate, loss in zip(rates, losses, strict=True) if np.isfinite(loss)]
    if len(finite) < 3:
        raise TrainingError("The range test took fewer than 3 steps with a finite loss: lower lr_find.start.")
    averaged, smoothed = 0.0, []
    for step, (_, loss) in enumerate(finite, start=1):
        averaged = smoothing * averaged + (1 - smoothing) * loss
        smoothed.append(averaged / (1 - smoothing**step))
    return float(finite[int(np.argmin(smoothed))][0] / 10)


def ready_command(rate: float) -> str:
    """`python train.py` with this run's own overrides (the range test's aside) and the suggested rate."""
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    kept = [item for item in overrides if not item.lstrip("+~").startswith(("lr_find.", "optim.lr=", "hydra."))]
    return " ".join(["python train.py", *kept, f"optim.lr={rate:.2g}"])


def lr_find(cfg: DictConfig) -> dict[str, Any]:
    """Sweep, write lr_find.csv and lr_find.png into the run directory, print the suggestion and its command."""
    output_dir = Path(cfg.paths.output_dir)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    settings = config_values(cfg.lr_find)  # the phase by its name
    with open_dict(cfg):
        cfg.finetune = OmegaConf.create(phase_finetune(config_values(cfg.finetune), settings['phase']))
        cfg.scheduler = None  # the test sets every rate itself
    datamodule = instantiate(cfg.data, backbone=cfg.backbone.name)
    datamodule.setup_data()
    model = build_model(cfg, datamodule)
    test = LearningRateRangeTest(settings['start'], settings['stop'], settings['steps'])
    trainer = L.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=1,
        precision=resolve_precision(cfg.trainer.precision),
        max_steps=settings['steps'],
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,  # Lightning's bar counts epochs; this run is bounded by steps
        callbacks=[FreezeScheduleCallback(), StepSeed(cfg.seed), test, StepsBar("Range test")],
    )
    with contextlib.suppress(TrainingError):  # the NaN check: a loss no longer finite ends the sweep too
        trainer.fit(model, datamodule=datamodule)
    rate = suggested_rate(test.rates, test.losses)
    output_dir.mkdir(parents=True, exist_ok=True)
    names = [group.get("name", str(index)) for index, group in enumerate(trainer.optimizers[0].param_groups)]
    with open(output_dir / "lr_find.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "loss", *(f"lr_{name}" for name in names)])
        for step, (loss, groups) in enumerate(zip(test.losses, test.group_rates, strict=False)):
            writer.writerow([step, loss, *groups])
    lr_range_curve(test.rates[: len(test.losses)], test.losses, rate, output_dir / "lr_find.png")
    command = ready_command(rate)
    console.print(f"Suggested optim.lr = {rate:.2g} ({settings['phase']} phase; {len(test.losses)} steps).")
    console.print(f"Wrote {output_dir / 'lr_find.png'} and {output_dir / 'lr_find.csv'}. To train with it:")
    console.print(command)
    return {"suggested_lr": rate, "rates": test.rates, "losses": test.losses, "group_rates": test.group_rates}
