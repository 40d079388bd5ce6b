"""DDP on 2 CPU processes (gloo), launched as a cluster launches it: two torchrun "nodes" of one process each.
One run, with every lever for small datasets on, a backbone beyond Inception (a ResNet-50 with a block per
stage) and multi-label data, shows that the ranks hold identical weights through the warm-up and the unfreeze
step, that every test image is scored once, and that the outputs are written once, into one run folder both
nodes name alike. (The Inception backbones' own DDP behaviour is the same code: their stages, frozen
BatchNorm and unfreezing are checked in test_freezing.py.)"""

import csv
import json
import os
import socket
import subprocess
import sys

import lightning as L
import pytest
import torch

from inception_tl.errors import ConfigError
from tests.helpers import ALL_LEVERS, REPO, classifier

SMALL_RUN = [
    "experiment=quickstart",
    "trainer.accelerator=cpu",
    "backbone=resnet50",
    "+backbone.model_kwargs.layers=[1,1,1,1]",
    "data=shape_tags",
    "data.source.train_images=36",
    "data.source.test_images=9",
    "data.source.image_size=64",
    "data.image_size=64",
    "data.batch_size=4",
    "data.num_workers=0",
]
LABELS = 4  # circle, square, star, triangle


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def two_node_run(shared_tmp):
    """Two torchrun launchers on this machine as two nodes. No hydra.run.dir is given, so each node names the
    run folder itself, from the job's rendezvous id. One epoch of warm-up, then layer4 and up released."""
    tmp_path = shared_tmp("ddp")
    weights = tmp_path / "weights"
    rendezvous = ["--nnodes=2", "--nproc_per_node=1", "--rdzv_backend=c10d"]
    rendezvous += [f"--rdzv_endpoint=127.0.0.1:{free_port()}", "--rdzv_id=two-nodes"]
    overrides = [*SMALL_RUN, f"paths.data_dir={tmp_path / 'data'}", "trainer=ddp", "trainer.devices=1"]
    overrides += ["trainer.num_nodes=2", "trainer.max_epochs=2", "callbacks.progress_bar=null", "figures=false"]
    overrides += ["callbacks.last_checkpoint=null"]  # best.ckpt alone: rank 0 writes it, the other waits
    overrides += ALL_LEVERS
    overrides += ["finetune=warmup", "finetune.warmup_epochs=1", "finetune.unfreeze_from=layer4"]
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
    return tmp_path, outputs


@pytest.mark.slow
def test_both_nodes_write_one_set_of_outputs_into_one_run_folder(two_node_run):
    tmp_path, outputs = two_node_run
    assert any("GLOBAL_RANK: 1, MEMBER: 2/2" in output for output in outputs)
    assert [path.name for path in (tmp_path / "outputs" / "quickstart").iterdir()] == ["torchrun-two-nodes"]
    run_dir = tmp_path / "outputs" / "quickstart" / "torchrun-two-nodes"
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    assert [path.name for path in (run_dir / "csv").iterdir()] == ["version_0"]  # one logger run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # 9 test images over 2 processes: each is scored exactly once, none repeated to even the shares, and the
    # report (from the same pass, gathered from both processes) lists each once. Multi-label: a 2 x 2 per label.
    assert [sum(map(sum, label)) for label in metrics["test/confusion_matrix"]] == [9] * LABELS
    assert len(metrics["thresholds"]) == LABELS
    with open(run_dir / "report" / "predictions.csv") as handle:
        paths = [row["path"] for row in csv.DictReader(handle)]
    assert len(paths) == len(set(paths)) == 9


@pytest.mark.slow
def test_ranks_stay_identical_through_warmup_and_unfreezing(two_node_run):
    weights = two_node_run[0] / "weights"
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
    released = [name for name in backbone if name.startswith("backbone.layer4") and "running" not in name]
    frozen = [name for name in backbone if not name.startswith("backbone.layer4")]
    assert all(not torch.equal(warmed[name], unfrozen[name]) for name in released if "num_batches" not in name)
    assert all(torch.equal(warmed[name], unfrozen[name]) for name in frozen)


@pytest.mark.slow
def test_the_log_shows_each_epochs_phase_trainable_parameters_and_learning_rates(two_node_run):
    run_dir = two_node_run[0] / "outputs" / "quickstart" / "torchrun-two-nodes"
    with open(run_dir / "csv" / "version_0" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    phases = {int(row["epoch"]): row for row in rows if row.get("finetune/phase")}
    assert [float(phases[epoch]["finetune/phase"]) for epoch in (0, 1)] == [0.0, 1.0]
    head_parameters = 2048 * LABELS + LABELS
    assert float(phases[0]["finetune/trainable_params"]) == head_parameters
    assert float(phases[1]["finetune/trainable_params"]) > 1_000_000
    rates = [row for row in rows if row.get("lr-AdamW/head")]
    assert rates
    for row in rates:
        assert float(row["lr-AdamW/layer4"]) == pytest.approx(0.1 * float(row["lr-AdamW/head"]))


@pytest.mark.parametrize("strategy", ["ddp", "ddp_find_unused_parameters_true"])
def test_plain_ddp_with_a_frozen_phase_is_refused_with_the_fix(strategy):
    """Checked when fitting starts (on_fit_start), before any step; the CLI prints it as one line."""
    model = classifier({"strategy": "linear_probe"})
    model.trainer = L.Trainer(accelerator="cpu", strategy=strategy, devices=1, logger=False)
    if strategy == "ddp":
        with pytest.raises(ConfigError, match="trainer=ddp"):
            model.on_fit_start()
    else:
        model.on_fit_start()  # the strategy trainer=ddp sets: accepted
