"""The Lightning Trainer a run uses: the config's trainer, callbacks and loggers, with `auto` settings resolved
for the machine and checkpoints written atomically."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from omegaconf import DictConfig

from inception_tl.config.instantiate import instantiate
from inception_tl.training.callbacks.freeze_schedule import FreezeScheduleCallback
from inception_tl.training.checkpoint_io import AtomicCheckpointIO
from inception_tl.training.loggers import build_loggers


def resolve_precision(precision: str | int) -> str | int:
    """`auto` means mixed precision (fp16 AMP) on CUDA and full precision elsewhere.

    Lightning has no "auto" precision; fp16 AMP is not available on the CPU, so one default
    serves both machines.
    """
    if precision != "auto":
        return precision
    return "16-mixed" if torch.cuda.is_available() else "32-true"


AUTOCAST_DTYPES = {"16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}


def autocast(precision: str | int, device: torch.device) -> AbstractContextManager:
    """Lightning's mixed precision outside a Trainer (`predict.py`, the benchmarks): autocast to fp16 or bf16."""
    dtype = AUTOCAST_DTYPES.get(str(precision))
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def resolve_sync_batchnorm(sync_batchnorm: bool | str) -> bool:
    """`auto` synchronises BatchNorm across DDP processes on CUDA; torch's SyncBatchNorm needs GPUs."""
    if sync_batchnorm != "auto":
        return bool(sync_batchnorm)
    return torch.cuda.is_available()


def build_trainer(
    cfg: DictConfig, *own_callbacks: Callback, wandb_identity: Mapping[str, Any] | None = None
) -> L.Trainer:
    """The Trainer of the config, with the callbacks of the config group and those the caller needs;
    `wandb_identity` names a W&B run (see `build_loggers`)."""
    # The freeze schedule drives what trains: no config can leave it out (the model refuses to train without it).
    callbacks: list[Callback] = [FreezeScheduleCallback()]
    callbacks += [instantiate(node) for node in (cfg.get("callbacks") or {}).values() if node]
    callbacks += own_callbacks
    loggers = build_loggers(cfg, wandb_identity)
    if not loggers:  # `~logger`: the learning-rate monitor has nowhere to write (Lightning would refuse to start)
        callbacks = [callback for callback in callbacks if not isinstance(callback, LearningRateMonitor)]
    resolved = {"precision": resolve_precision(cfg.trainer.precision)}
    if "enable_checkpointing" not in cfg.trainer:
        # The checkpoints are the configured ones: with callbacks.model_checkpoint and last_checkpoint both null,
        # Lightning would otherwise add its own and write `epoch=N-step=M.ckpt` into the logger's folder.
        resolved["enable_checkpointing"] = any(isinstance(callback, ModelCheckpoint) for callback in callbacks)
    if "sync_batchnorm" in cfg.trainer:
        resolved["sync_batchnorm"] = resolve_sync_batchnorm(cfg.trainer.sync_batchnorm)
    plugins = [AtomicCheckpointIO()]
    return instantiate(cfg.trainer, **resolved, callbacks=callbacks, logger=loggers or False, plugins=plugins)
