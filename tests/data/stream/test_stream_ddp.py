"""data=stream under DDP, launched as a cluster launches it (two torchrun "nodes" of one process each, gloo on the
CPU), the shards served over loopback HTTP: within the epoch each good sample trains once on one rank, none is
lost, the two bad ones are skipped and listed by key, the ranks end with identical weights, one run folder."""

import csv
import functools
import http.server
import json
import os
import subprocess
import sys
import threading

import pytest
import torch

from inception_tl.data.stream.index import ShardIndex
from tests.conftest import QuietHandler
from tests.data.stream.test_stream import CLASSES, add_bad_shard, write_folder_shards
from tests.finetune.test_ddp import free_port
from tests.helpers import REPO


@pytest.fixture(scope="module")
def stream_run(shared_tmp):
    tmp_path = shared_tmp("stream-ddp")
    served = tmp_path / "served"
    write_folder_shards(served, shard_size=6)  # 24 training samples in 4 shards, 3 validation
    add_bad_shard(served / "shards", good=6)  # + 8: 6 good, a corrupt image, an image without a label
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/shards"
    weights = tmp_path / "weights"
    rendezvous = ["--nnodes=2", "--nproc_per_node=1", "--rdzv_backend=c10d"]
    rendezvous += [f"--rdzv_endpoint=127.0.0.1:{free_port()}", "--rdzv_id=stream"]
    overrides = ["experiment=quickstart", "trainer.accelerator=cpu", "backbone=resnet50"]
    overrides += ["+backbone.model_kwargs.layers=[1,1,1,1]", "data.image_size=64", "data.batch_size=4"]
    overrides += ["data=stream", f"data.source.url={url}", "data.on_bad_image=skip", "data.num_workers=1"]
    overrides += [f"paths.data_dir={tmp_path / 'data'}", "trainer=ddp", "trainer.devices=1", "trainer.num_nodes=2"]
    overrides += ["trainer.max_epochs=1", "callbacks.progress_bar=null", "figures=false"]
    overrides += ["callbacks.last_checkpoint=null", "+callbacks.rank_weights._target_=tests.helpers.SaveRankWeights"]
    overrides += [f"+callbacks.rank_weights.directory={weights}"]
    command = [sys.executable, "-m", "torch.distributed.run", *rendezvous, str(REPO / "train.py"), *overrides]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    try:
        nodes = [
            subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=1)
            for _ in range(2)
        ]
        outputs = [node.communicate(timeout=600)[0] for node in nodes]
    finally:
        server.shutdown()
        server.server_close()
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    return tmp_path, served, outputs


@pytest.mark.slow
def test_each_good_sample_trains_once_on_one_rank_and_the_ranks_stay_identical(stream_run):
    tmp_path, served, _ = stream_run
    load = [torch.load(tmp_path / "weights" / f"rank{rank}-epoch0.pt", weights_only=True) for rank in (0, 1)]
    index = ShardIndex.read(str(served / "shards"))
    bad = {index.total("train") - 3, index.total("train") - 2}  # bad-1 and bad-2: the last shard's 6th and 7th
    assert len(load[0]["indices"]) + len(load[1]["indices"]) == 32 - 2
    assert sorted(load[0]["indices"] + load[1]["indices"]) == sorted(set(range(32)) - bad)
    for name, tensor in load[0]["state"].items():
        assert torch.equal(tensor, load[1]["state"][name]), f"{name} differs between ranks"


@pytest.mark.slow
def test_the_bad_samples_are_listed_by_key_in_the_one_run_folder(stream_run):
    tmp_path, _, outputs = stream_run
    assert [path.name for path in (tmp_path / "outputs" / "quickstart").iterdir()] == ["torchrun-stream"]
    run_dir = tmp_path / "outputs" / "quickstart" / "torchrun-stream"
    with open(run_dir / "skipped_samples.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["sample"].rsplit("/", 1)[1] for row in rows] == ["bad.tar#bad-1", "bad.tar#bad-2"]
    assert "Skipped 2 bad training sample(s)" in outputs[0] + outputs[1]
    assert json.loads((run_dir / "metrics.json").read_text())["class_names"] == CLASSES  # one report, one run
