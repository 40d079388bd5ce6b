"""DDP on 2 CPU processes (gloo): the ranks hold identical weights through the warm-up and the unfreeze step,
every test image is scored once, and the outputs are written once."""

import csv
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from tests.helpers import REPO

pytestmark = pytest.mark.slow

SMALL_RUN = [
    "experiment=quickstart",
    "trainer.accelerator=cpu",
    "data.source.classes=[circle,square,star]",
    "data.source.train_per_class=12",
    "data.source.test_per_class=3",
    "data.batch_size=4",
    "data.num_workers=0",
]


def run_cli(tmp_path, *overrides: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "train.py", *SMALL_RUN, f"paths.data_dir={tmp_path / 'data'}"]
    command += [f"hydra.run.dir={tmp_path / 'run'}", *overrides]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ranks_stay_identical_through_warmup_and_unfreezing_and_write_one_set_of_outputs(tmp_path):
    weights = tmp_path / "weights"
    result = run_cli(
        tmp_path,
        "trainer=ddp",
        "trainer.devices=2",
        "trainer.max_epochs=2",
        "finetune=warmup",
        "finetune.warmup_epochs=1",
        "finetune.unfreeze_from=Mixed_7a",
        "+callbacks.rank_weights._target_=tests.helpers.SaveRankWeights",
        f"+callbacks.rank_weights.directory={weights}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in result.stdout + result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # 9 test images over 2 processes: each is scored exactly once, none repeated to even the shares, and the
    # report (from the same pass, gathered from both processes) lists each once.
    assert sum(map(sum, metrics["test/confusion_matrix"])) == 9
    with open(tmp_path / "run" / "report" / "predictions.csv") as handle:
        paths = [row["path"] for row in csv.DictReader(handle)]
    assert len(paths) == len(set(paths)) == 9
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()
    load = {
        tag: [torch.load(weights / f"rank{r}-{tag}.pt", weights_only=True) for r in (0, 1)]
        for tag in ("initial", "epoch0", "epoch1")
    }

    for tag, (rank0, rank1) in load.items():
        assert not set(rank0["indices"]) & set(rank1["indices"])  # each rank trained on other images
        for name, tensor in rank0["state"].items():
            assert torch.equal(tensor, rank1["state"][name]), f"{tag}: {name} differs between ranks"

    initial, warmed, unfrozen = (load[tag][0]["state"] for tag in ("initial", "epoch0", "epoch1"))
    backbone = [name for name in initial if name.startswith("backbone.")]
    assert all(torch.equal(initial[name], warmed[name]) for name in backbone)  # warm-up: frozen under DDP too
    assert not torch.equal(initial["head.weight"], warmed["head.weight"])
    released = [name for name in backbone if name.startswith("backbone.Mixed_7") and "running" not in name]
    frozen = [name for name in backbone if not name.startswith("backbone.Mixed_7")]
    assert all(not torch.equal(warmed[name], unfrozen[name]) for name in released if "num_batches" not in name)
    assert all(torch.equal(warmed[name], unfrozen[name]) for name in frozen)

    # The log shows the phase, the trainable parameter count and each group's learning rate, per epoch.
    with open(tmp_path / "run" / "csv" / "version_0" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    phases = {int(row["epoch"]): row for row in rows if row.get("finetune/phase")}
    assert [float(phases[epoch]["finetune/phase"]) for epoch in (0, 1)] == [0.0, 1.0]
    head_parameters = 2048 * 3 + 3
    assert float(phases[0]["finetune/trainable_params"]) == head_parameters
    assert float(phases[1]["finetune/trainable_params"]) > 1_000_000
    rates = [row for row in rows if row.get("lr-AdamW/head")]
    assert rates
    for row in rates:
        assert float(row["lr-AdamW/Mixed_7a"]) == pytest.approx(0.1 * float(row["lr-AdamW/head"]))


def test_plain_ddp_with_a_frozen_phase_is_refused_with_the_fix(tmp_path):
    result = run_cli(tmp_path, "trainer.strategy=ddp", "trainer.devices=1", "finetune=linear_probe")
    assert result.returncode == 1
    assert "trainer=ddp" in result.stderr
    assert "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_torchrun_nodes_train_one_model_into_one_run_directory(tmp_path):
    """Two torchrun launchers on this machine as two nodes (one CPU process each, gloo), as on a cluster:
    no hydra.run.dir is given, so each node names the run folder itself, from the job's rendezvous id."""
    weights = tmp_path / "weights"
    rendezvous = ["--nnodes=2", "--nproc_per_node=1", "--rdzv_backend=c10d"]
    rendezvous += [f"--rdzv_endpoint=127.0.0.1:{free_port()}", "--rdzv_id=two-nodes"]
    overrides = [*SMALL_RUN, f"paths.data_dir={tmp_path / 'data'}", "trainer=ddp", "trainer.devices=1"]
    overrides += ["trainer.num_nodes=2", "trainer.max_epochs=1", "callbacks.progress_bar=null"]
    overrides += ["+callbacks.rank_weights._target_=tests.helpers.SaveRankWeights"]
    overrides += [f"+callbacks.rank_weights.directory={weights}"]
    command = [sys.executable, "-m", "torch.distributed.run", *rendezvous, str(REPO / "train.py"), *overrides]
    # PYTHONPATH: the test's callback is imported outside the repository. One thread per process: the two
    # "nodes" share 2 cores (torchrun sets this itself only when it starts several processes on a node).
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    nodes = [
        subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]

    assert [path.name for path in (tmp_path / "outputs" / "quickstart").iterdir()] == ["torchrun-two-nodes"]
    run_dir = tmp_path / "outputs" / "quickstart" / "torchrun-two-nodes"
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    assert [path.name for path in (run_dir / "csv").iterdir()] == ["version_0"]  # one logger run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert sum(map(sum, metrics["test/confusion_matrix"])) == 9
    rank0, rank1 = (torch.load(weights / f"rank{rank}-epoch0.pt", weights_only=True) for rank in (0, 1))
    assert not set(rank0["indices"]) & set(rank1["indices"])
    for name, tensor in rank0["state"].items():
        assert torch.equal(tensor, rank1["state"][name]), f"{name} differs between the nodes"
