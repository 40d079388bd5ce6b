"""The run folder's name (`${run_name:}` in the configs): one folder per run, however many nodes run it.

Hydra names run folders by the start time, which each process reads from its own clock: on two nodes
(torchrun on each, or SLURM's srun) the processes would each create a folder, a second apart. When a
multi-process launcher gives its processes a shared job id, that id names the folder instead.
"""

from __future__ import annotations

import os
from datetime import datetime

from omegaconf import OmegaConf


def run_name(environ: dict[str, str] | None = None) -> str:
    """`slurm-<job>[.<step>]` for the tasks of one srun, `torchrun-<rdzv id>` for one torchrun job of several
    processes, otherwise the start time (as Hydra's default). A single process keeps the time: two runs in
    one SLURM allocation must not share a folder."""
    env = os.environ if environ is None else environ
    if int(env.get("SLURM_NTASKS", "1")) > 1 and "SLURM_JOB_ID" in env:
        step = env.get("SLURM_STEP_ID")
        return f"slurm-{env['SLURM_JOB_ID']}" + (f".{step}" if step else "")
    run_id = env.get("TORCHELASTIC_RUN_ID", "none")
    if int(env.get("WORLD_SIZE", "1")) > 1 and run_id != "none":
        return f"torchrun-{run_id}"
    return datetime.now().strftime("%Y-%m-%d_%H-%M-%S")


def register_run_name() -> None:
    """Make `${run_name:}` available to the configs (cached: every use in a process gives the same name)."""
    OmegaConf.register_new_resolver("run_name", run_name, use_cache=True, replace=True)
