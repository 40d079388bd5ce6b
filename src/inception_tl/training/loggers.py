"""Loggers from the `logger` config group; a W&B run gets the name, group and tags the task hands over."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig

from inception_tl.config.instantiate import instantiate


def build_loggers(cfg: DictConfig, wandb_identity: Mapping[str, Any] | None = None) -> list[Logger]:
    """The configured loggers; a W&B logger takes name, group and tags from `wandb_identity` where its own
    config leaves them unset (tags are added to its own)."""
    loggers = []
    for node in (cfg.get("logger") or {}).values():
        if not node:
            continue
        if node.get("_target_", "").endswith("WandbLogger"):
            identity = dict(wandb_identity or {"tags": []})
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
