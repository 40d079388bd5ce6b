"""lr_find.py: the head's rate sweeps up exponentially, every other group keeping its configured ratio to it
(Lightning's LearningRateFinder sets them all equal), and the run writes its plot, its table and a suggestion."""

import csv
import itertools

import pytest

from inception_tl.config.instantiate import instantiate
from inception_tl.models.build import build_model
from inception_tl.tasks.lr_find import lr_find, suggested_rate
from tests.helpers import compose_config, write_image_tree


def test_every_group_keeps_its_ratio_to_the_heads_rate_at_every_step(tmp_path, capsys):
    root = write_image_tree(tmp_path / "images", {"train": {"a": 10, "b": 10}})
    overrides = ["data=imagefolder", f"data.root={root}", "data.image_size=75", "data.batch_size=4"]
    overrides += ["data.num_workers=0", f"paths.data_dir={tmp_path / 'cache'}", "backbone.pretrained=false"]
    overrides += ["trainer=cpu", "finetune=gradual", "lr_find.phase=full", "lr_find.steps=6", "lr_find.start=1e-4"]
    cfg = compose_config(overrides, tmp_path / "run", config_name="lr_find")
    result = lr_find(cfg)
    printed = capsys.readouterr().out
    assert "Range test" in printed
    assert "6/6 steps" in printed  # its bar counts steps, not epochs (Lightning's said "Epoch 8/-2")
    assert "Epoch" not in printed

    rates = result["rates"]
    assert len(rates) == len(result["losses"]) == 6
    assert rates[0] == pytest.approx(1e-4)
    assert all(
        later / earlier == pytest.approx((1.0 / 1e-4) ** (1 / 5)) for earlier, later in itertools.pairwise(rates)
    )
    # The configured discriminative rates, as train.py builds them (here finetune=gradual's lr_decay 0.8).
    datamodule = instantiate(cfg.data, backbone=cfg.backbone.name)
    configured = [group["lr"] / cfg.optim.lr for group in build_model(cfg, datamodule).build_optimizer().param_groups]
    assert len(set(configured)) > 2  # several distinct ratios: the check means something
    for rate, groups in zip(rates, result["group_rates"], strict=True):
        assert groups == pytest.approx([ratio * rate for ratio in configured])

    run = tmp_path / "run"
    assert (run / "lr_find.png").stat().st_size > 0
    with open(run / "lr_find.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    assert float(rows[-1]["lr_head"]) == pytest.approx(rates[-1])
    assert 1e-5 <= result["suggested_lr"] <= 0.1


def test_the_suggestion_is_a_tenth_of_the_rate_at_the_lowest_smoothed_loss():
    rates = [10 ** (-6 + step / 10) for step in range(60)]
    losses = [2.0 - step / 40 if step < 40 else 1.0 + (step - 40) ** 2 for step in range(60)]
    suggested = suggested_rate(rates, losses)
    assert rates[30] / 10 < suggested < rates[42] / 10  # near the smoothed minimum, before the blow-up
