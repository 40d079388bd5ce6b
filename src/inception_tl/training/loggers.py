"""Loggers from the `logger` config group, with W&B runs named, grouped and tagged from the Hydra job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig

from inception_tl.config.instantiate import instantiate


def wandb_run_identity(cfg: DictConfig) -> dict[str, Any]:
    """name, group and tags for a W&B run, where the config leaves them unset.

    A multirun's jobs share a group (the sweep folder) and are named `<task>-<job number>`; a single
    run is named after its run folder. Tags say the backbone, data and finetune choices.
    """
    hydra = HydraConfig.get()
    choices = hydra.runtime.choices
    tags = [choices.get(group) for group in ("backbone", "data", "finetune", "experiment")]
    identity: dict[str, Any] = {"tags": [tag for tag in tags if tag and tag != "None"]}
    if hydra.mode == RunMode.MULTIRUN:
        identity["name"] = f"{cfg.task_name}-{hydra.job.num}"
        identity["group"] = Path(hydra.sweep.dir).name
    else:
        identity["name"] = f"{cfg.task_name}-{Path(cfg.paths.output_dir).name}"
    return identity


def build_loggers(cfg: DictConfig) -> list[Logger]:
    loggers = []
    for node in (cfg.get("logger") or {}).values():
        if not node:
            continue
        if node.get("_target_", "").endswith("WandbLogger"):
            identity = wandb_run_identity(cfg)
            extra = {key: value for key, value in identity.items() if not node.get(key)}
            if node.get("tags"):
                extra["tags"] = [*node.tags, *identity["tags"]]
            loggers.append(instantiate(node, **extra))
        else:
            loggers.append(instantiate(node))
    return loggers


def finish_wandb_runs(loggers: list[Logger]) -> None:
    """End this job's W&B run, so the next job of a multirun starts its own instead of reusing it."""
    for logger in loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            logger.experiment.finish()
