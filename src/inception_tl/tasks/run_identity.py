"""What a run is called in W&B, from Hydra's runtime state (the tasks are the only layer that reads it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig


def wandb_run_identity(cfg: DictConfig) -> dict[str, Any]:
    """name, group and tags for a W&B run, where the config leaves them unset.

    A multirun's jobs share a group (the sweep folder) and are named `<task>-<job number>`; a single
    run is named after its run folder. Tags say the backbone, data and finetune choices.
    """
    if not HydraConfig.initialized():  # the task called from Python, not through its Hydra entry point
        return {"tags": [], "name": f"{cfg.task_name}-{Path(cfg.paths.output_dir).name}"}
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
