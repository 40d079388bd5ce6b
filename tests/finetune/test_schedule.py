import pytest
import timm

from inception_tl.errors import ConfigError
from inception_tl.finetune import FinetuneConfig
from inception_tl.finetune.schedule import group_starts, release_names
from inception_tl.finetune.stages import backbone_stages


def make_schedule(strategy, stages, **options):
    """The schedule a `finetune` config with these options gives (FinetuneConfig's defaults for the rest)."""
    return FinetuneConfig(strategy=strategy, **options).schedule(stages)


@pytest.fixture(scope="module")
def stages():
    return backbone_stages(timm.create_model("inception_v3", pretrained=False, num_classes=0))


def test_full_trains_everything_and_linear_probe_nothing(stages):
    assert make_schedule("full", stages).frozen_stages(0) == 0
    probe = make_schedule("linear_probe", stages)
    assert [probe.frozen_stages(epoch) for epoch in (0, 5, 100)] == [len(stages)] * 3


def test_warmup_freezes_the_backbone_then_releases_from_the_named_block(stages):
    schedule = make_schedule("warmup", stages, warmup_epochs=2, unfreeze_from="Mixed_7a")
    names = [stage.name for stage in stages]
    assert [schedule.frozen_stages(epoch) for epoch in (0, 1)] == [len(stages)] * 2
    frozen = schedule.frozen_stages(2)
    assert names[frozen] == "Mixed_7a"
    assert names[frozen:] == ["Mixed_7a", "Mixed_7b", "Mixed_7c", "pre_logits"]  # pooling: no parameters
    assert make_schedule("warmup", stages, warmup_epochs=1).frozen_stages(1) == 0


def test_gradual_releases_timm_groups_top_down_one_every_n_epochs(stages):
    schedule = make_schedule("gradual", stages, warmup_epochs=1, every_n_epochs=2)
    names = [stage.name for stage in stages]
    released = [names[schedule.frozen_stages(epoch)] for epoch in (1, 2, 3, 5)]
    assert released == ["Mixed_7c", "Mixed_7c", "Mixed_7b", "Mixed_7a"]
    assert group_starts(stages)[:2] == ["Conv2d_1a_3x3", "Conv2d_3b_1x1"]  # the stem groups of timm's matcher
    last_release = 1 + 2 * (len(group_starts(stages)) - 1)
    assert schedule.frozen_stages(last_release - 1) > 0
    assert schedule.frozen_stages(last_release) == 0


def test_milestones_apply_in_epoch_order_whatever_order_they_are_written(stages):
    steps = ({"epoch": 4, "unfreeze_from": None}, {"epoch": 1, "unfreeze_from": "Mixed_6a"})
    schedule = make_schedule("milestones", stages, milestones=steps)
    names = [stage.name for stage in stages]
    assert schedule.frozen_stages(0) == len(stages)
    assert names[schedule.frozen_stages(3)] == "Mixed_6a"
    assert schedule.frozen_stages(4) == 0


def test_an_unknown_block_name_lists_the_valid_ones(stages):
    with pytest.raises(ConfigError) as error:
        make_schedule("warmup", stages, warmup_epochs=1, unfreeze_from="mixed7")
    message = str(error.value)
    assert "'mixed7'" in message
    assert "Mixed_7a" in message
    assert "Pool1" not in release_names(stages)  # parameter-free stages are not offered


def test_an_unknown_strategy_is_refused_with_the_choices(stages):
    with pytest.raises(ConfigError, match="linear_probe"):
        make_schedule("frozen", stages)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"strategy": "warmup", "unfreeze_form": "Mixed_7a"}, "unfreeze_form"),
        ({"lr_decay": 1.5}, "lr_decay"),
        ({"backbone_lr_scale": 0}, "backbone_lr_scale"),
        ({"backbone_lr_scale": 0.1, "min_lr_scale": 0.5}, "min_lr_scale"),
        ({"strategy": "milestones", "milestones": [{"unfreeze_from": "Mixed_7a"}]}, "epoch"),
    ],
)
def test_bad_finetune_options_name_the_option(options, complaint):
    with pytest.raises(ConfigError, match=complaint):
        FinetuneConfig.from_mapping(options)


def test_discriminative_rates_decay_per_group_down_to_the_floor():
    config = FinetuneConfig.from_mapping({"backbone_lr_scale": 0.1, "lr_decay": 0.5, "min_lr_scale": 0.02})
    assert config.group_lr_scales(4) == pytest.approx([0.02, 0.025, 0.05, 0.1])
