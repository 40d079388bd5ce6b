"""benchmarks/throughput.py runs end to end at a tiny size and writes every figure it promises."""

import json

import pytest

from tests.helpers import run_entry_point

pytestmark = pytest.mark.slow


def test_the_throughput_benchmark_measures_every_path_and_writes_its_json(tmp_path):
    arguments = ["experiment=quickstart", "data.source.train_per_class=6", "data.source.test_per_class=2"]
    arguments += ["data.batch_size=4", "data.num_workers=0", "bench.steps=2", "bench.warmup_steps=1"]
    arguments += ["figures=false", "callbacks.last_checkpoint=null", "trainer.log_every_n_steps=2"]
    arguments += ["bench.predict_batch_size=8"]
    arguments += [f"paths.data_dir={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}"]
    result = run_entry_point("benchmarks/throughput.py", *arguments)  # in this process, as tests.helpers explains
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    report = json.loads((tmp_path / "run" / "throughput.json").read_text())
    assert report["settings"]["backbone"] == "inception_v3"
    assert report["settings"]["batch_size"] == 4
    assert {"device", "torch", "timm", "lightning"} <= set(report["environment"])
    for phase in ("warmup", "full"):
        figures = report["phases"][phase]
        for path in ("model", "loader", "data", "loop", "lightning"):
            assert figures[f"{path}_images_per_s"] > 0, (phase, path)
        assert figures["model_gflop_per_image"] > 0
        assert figures["lightning_vs_loop"] == pytest.approx(
            figures["lightning_images_per_s"] / figures["loop_images_per_s"]
        )
        assert figures["host_syncs_per_step"] == 0, phase  # between logging intervals: nothing read back
        assert figures["host_syncs_per_logged_step"] > 0, phase  # the loss shown, the NaN guard's verdict
    predict = report["predict"]
    assert predict["predict_images_per_s"] > 0
    assert predict["predict_vs_inference"] == pytest.approx(
        predict["predict_images_per_s"] / predict["inference_images_per_s"]
    )
    # The frozen backbone skips its backward pass: fewer FLOPs per image than the full phase.
    assert report["phases"]["warmup"]["model_gflop_per_image"] < report["phases"]["full"]["model_gflop_per_image"]
    run = report["whole_run"]
    assert 0 < run["to_first_step_s"] < 600
    assert 0 < run["after_last_step_s"] < 600
    assert (tmp_path / "run" / "metrics.json").is_file()  # the whole run did run
    assert "lightning/loop" in result.stdout
    assert "predict.py:" in result.stdout
