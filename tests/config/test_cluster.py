"""Cluster runs: the SLURM launcher config composes, and every process of a multi-node job names the same
run folder while separate runs never share one. (Two torchrun nodes training for real: finetune/test_ddp.)"""

import re

from hydra import compose, initialize_config_dir

from inception_tl.config.run_name import run_name
from inception_tl.config.schema import register_schemas
from tests.helpers import CONFIG_DIR

TIMESTAMP = r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}"


def test_the_slurm_launcher_config_composes_with_one_task_per_gpu():
    register_schemas()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["hydra/launcher=slurm", "hydra.launcher.nodes=2", "trainer=ddp", "trainer.num_nodes=2"],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert launcher.nodes == 2
    assert launcher.tasks_per_node == launcher.gpus_per_node  # Lightning's SLURM ranks: one task per GPU
    assert launcher.submitit_folder == f"{cfg.hydra.sweep.dir}/.submitit/%j"  # SLURM's logs beside the runs


def test_processes_of_one_multi_node_job_share_the_run_folder_name():
    srun = {"SLURM_JOB_ID": "4242", "SLURM_NTASKS": "8", "SLURM_STEP_ID": "0", "SLURM_PROCID": "5"}
    assert run_name(srun) == run_name({**srun, "SLURM_PROCID": "0"}) == "slurm-4242.0"
    torchrun = {"TORCHELASTIC_RUN_ID": "job7", "WORLD_SIZE": "16", "RANK": "3"}
    assert run_name(torchrun) == run_name({**torchrun, "RANK": "0"}) == "torchrun-job7"


def test_single_processes_and_static_rendezvous_keep_hydras_start_time():
    # A lone process inside a SLURM allocation: two such runs in one job must not share a folder.
    assert re.fullmatch(TIMESTAMP, run_name({"SLURM_JOB_ID": "4242", "SLURM_NTASKS": "1"}))
    # torchrun without --rdzv-id says "none": no shared id to go by.
    assert re.fullmatch(TIMESTAMP, run_name({"TORCHELASTIC_RUN_ID": "none", "WORLD_SIZE": "2"}))
    assert re.fullmatch(TIMESTAMP, run_name({}))
