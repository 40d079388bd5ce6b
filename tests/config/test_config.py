"""Every documented combination of config groups composes, resolves and builds its data module."""

import itertools

import pytest
import timm
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException, MissingConfigException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from inception_tl.finetune import FinetuneConfig
from inception_tl.finetune.config import skeleton_stages
from tests.helpers import CONFIG_DIR, compose_config, run_entry_point

BACKBONES = sorted(p.stem for p in (CONFIG_DIR / "backbone").glob("*.yaml"))
DATA = sorted(p.stem for p in (CONFIG_DIR / "data").glob("*.yaml"))
TRAINERS = sorted(p.stem for p in (CONFIG_DIR / "trainer").glob("*.yaml"))


def test_the_documented_options_are_all_there():
    assert BACKBONES == [
        "convnext_tiny",
        "efficientnet_b3",
        "inception_resnet_v2",
        "inception_v3",
        "inception_v4",
        "mobilenetv3_large_100",
        "resnet50",
        "vit_base_patch16_224",
        "xception41",
    ]
    assert DATA == ["cifar10", "csv", "hf", "horse_human", "imagefolder", "shape_tags", "shapes", "stream"]
    assert TRAINERS == ["cpu", "ddp", "default", "gpu"]


# The three groups do not interact (a backbone sets the crop, data the folder, trainer the Trainer): every option
# composes with each of the others' in some case, without the 48-case product.
COMBINATIONS = [
    (BACKBONES[index % len(BACKBONES)], DATA[index], TRAINERS[index % len(TRAINERS)]) for index in range(len(DATA))
] + [(backbone, "imagefolder", "default") for backbone in BACKBONES]


def test_the_combinations_cover_every_option():
    assert {b for b, _, _ in COMBINATIONS} == set(BACKBONES)
    assert {d for _, d, _ in COMBINATIONS} == set(DATA)
    assert {t for _, _, t in COMBINATIONS} == set(TRAINERS)


@pytest.mark.parametrize(("backbone", "data", "trainer"), COMBINATIONS)
def test_every_backbone_data_and_trainer_option_composes(tmp_path, backbone, data, trainer):
    overrides = [f"backbone={backbone}", f"data={data}", f"trainer={trainer}", f"paths.data_dir={tmp_path}"]
    if data == "imagefolder":
        overrides.append(f"data.root={tmp_path / 'mine'}")
    if data == "csv":
        overrides.append(f"data.csv={tmp_path / 'mine' / 'labels.csv'}")
    if data == "stream":
        overrides.append(f"data.source.url={tmp_path / 'shards'}")
    cfg = compose_config(overrides, tmp_path / "run")
    resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert resolved["backbone"]["name"] == backbone
    assert resolved["trainer"]["_target_"] == "lightning.pytorch.Trainer"
    datamodule = instantiate(cfg.data, backbone=cfg.backbone.name)
    assert datamodule.preprocessing["crop_pct"] == timm.models.get_pretrained_cfg(backbone).crop_pct
    assert str(datamodule.root).startswith(str(tmp_path))


def test_the_default_composition_is_the_horse_human_inception_v3_recipe(tmp_path):
    cfg = compose_config([], tmp_path)
    assert cfg.backbone.name == "inception_v3"
    assert cfg.backbone.pretrained is True
    assert cfg.data.source._target_.endswith("HorseHuman")
    assert cfg.paths.output_dir == str(tmp_path)


@pytest.mark.parametrize(
    "group",
    [
        "logger=tensorboard",
        "logger=wandb",
        "optim=sgd",
        "scheduler=plateau",
        "callbacks=early_stopping",
        "debug=fast_dev_run",
        "debug=overfit",
        "debug=profiler",
        "experiment=quickstart",
    ],
)
def test_other_groups_compose(tmp_path, group):
    cfg = compose_config([group], tmp_path)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    name, option = group.split("=")
    assert HydraConfig.get().runtime.choices[name] == option
    assert resolved["paths"]["output_dir"] == str(tmp_path)


FINETUNES = sorted(p.stem for p in (CONFIG_DIR / "finetune").glob("*.yaml"))


def test_the_finetune_strategies_are_all_there_and_warmup_is_the_default(tmp_path):
    assert FINETUNES == ["full", "gradual", "linear_probe", "milestones", "warmup"]
    assert compose_config([], tmp_path).finetune.strategy == "warmup"
    assert compose_config(["experiment=quickstart"], tmp_path).finetune.strategy == "full"  # from scratch


# Every strategy for the Inception family; for the other architectures, gradual (which walks every group).
INCEPTION = [backbone for backbone in BACKBONES if backbone.startswith("inception")]
SCHEDULE_CASES = [*itertools.product(FINETUNES, INCEPTION), *(("gradual", b) for b in BACKBONES if b not in INCEPTION)]


@pytest.mark.parametrize(("finetune", "backbone"), SCHEDULE_CASES)
def test_every_finetune_option_builds_a_valid_schedule_for_every_backbone(tmp_path, finetune, backbone):
    cfg = compose_config([f"finetune={finetune}", f"backbone={backbone}"], tmp_path)
    config = FinetuneConfig.from_mapping(OmegaConf.to_container(cfg.finetune, resolve=True))
    assert config.strategy == finetune
    schedule = config.schedule(skeleton_stages(backbone))
    frozen_at_start = schedule.frozen_stages(0)
    assert frozen_at_start == (0 if finetune == "full" else len(skeleton_stages(backbone)))
    assert schedule.frozen_stages(1000) == (len(skeleton_stages(backbone)) if finetune == "linear_probe" else 0)


@pytest.mark.parametrize(
    ("override", "valid"),
    [("backbone=inception_v5", "inception_v4"), ("data=horses", "horse_human"), ("finetune=gradaul", "gradual")],
)
def test_an_unknown_option_fails_at_once_listing_the_valid_ones(tmp_path, override, valid):
    with pytest.raises(MissingConfigException) as error:
        compose_config([override], tmp_path)
    group = override.split("=")[0]
    assert f"Available options in '{group}'" in str(error.value)
    assert valid in str(error.value)


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ("data.batch_size=abc", "Value 'abc' of type 'str' could not be converted to Integer"),
        ("data.val_split=most", "could not be converted to Float"),
        ("data.augment.crop_scale=[0.5,big]", "could not be converted to Float"),
        ("finetune.warmup_epochs=two", "could not be converted to Integer"),
        ("backbone.pretrained=maybe", "is not a valid bool"),
        ("data.batchsize=8", "Key 'batchsize' not in 'DataSchema'"),
        ("finetune.unfreeze_form=Mixed_7a", "Key 'unfreeze_form' not in 'FinetuneSchema'"),
        # The options with a few choices are Enums: a wrong choice stops here too, naming the choices.
        ("data.balance=oversample", "Invalid value 'oversample', expected one of [none, weighted]"),
        ("data.verify=fast", "Invalid value 'fast', expected one of [header, full]"),
        ("data.on_bad_image=ignore", "Invalid value 'ignore', expected one of [error, skip]"),
        ("data.on_duplicate=keep", "Invalid value 'keep', expected one of [warn, error, drop, off]"),
        ("data.cache=sometimes", "Invalid value 'sometimes', expected one of [auto, always, none]"),
        ("data.worker_mode=fibres", "Invalid value 'fibres', expected one of [auto, threads, processes]"),
        ("backbone.head.hiden=64", "Key 'hiden' not in 'HeadSchema'"),
    ],
)
def test_wrong_types_and_misspelt_keys_are_caught_by_hydra_naming_the_key(tmp_path, override, complaint):
    with pytest.raises(ConfigCompositionException) as error:
        compose_config([override], tmp_path)
    message = str(error.value.__cause__)  # what the CLI prints below "Error merging override ..."
    assert complaint in message
    assert f"full_key: {override.split('=')[0]}" in message


def test_a_wrongly_typed_value_stops_the_cli_with_hydras_message_and_no_traceback():
    # The tests above see the exceptions; this checks what the user sees: Hydra's message alone.
    result = run_entry_point("train.py", "data.batch_size=abc")
    assert result.returncode != 0
    assert "full_key: data.batch_size" in result.stderr
    assert "could not be converted to Integer" in result.stderr
    assert "Traceback" not in result.stderr


def test_callback_options_combine_in_one_command(tmp_path):
    """`callbacks=[ema,early_stopping]`: each option adds its callback to the default ones, so they switch on
    together (and `callbacks=ema` alone still keeps the checkpoints)."""
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from inception_tl.training.callbacks import EMAWeights, FreezeScheduleCallback
    from inception_tl.training.trainer import build_trainer

    for choice, expected in [("ema", {EMAWeights}), ("[ema,early_stopping]", {EMAWeights, EarlyStopping})]:
        cfg = compose_config(["experiment=quickstart", f"callbacks={choice}", "~logger"], tmp_path)
        kinds = {type(callback) for callback in build_trainer(cfg).callbacks}
        assert expected | {ModelCheckpoint, FreezeScheduleCallback} <= kinds, choice
        assert sum(isinstance(cb, ModelCheckpoint) for cb in build_trainer(cfg).callbacks) == 2  # best and last


def enum_options() -> list[tuple[str, list[str], str, list[str]]]:
    """(config, group choices, dotted key, valid values) for every option of every schema whose values are a fixed
    set."""
    import dataclasses
    import enum
    import typing

    from inception_tl.config import schema

    roots = [
        ("train", [], "data", schema.DataSchema),
        ("train", [], "backbone", schema.BackboneSchema),
        ("train", [], "finetune", schema.finetune_schema()),
        ("train", [], "scheduler", schema.CosineSchema),
        ("train", ["scheduler=plateau"], "scheduler", schema.PlateauSchema),
        ("train", [], "optim", schema.OptimSchema),
        ("lr_find", [], "lr_find", schema.LrFindSchema),
        ("train", [], "", schema.TrainSchema),
        ("eval", ["ckpt_path=x"], "", schema.EvalSchema),
        ("export", ["ckpt_path=x"], "", schema.ExportSchema),
        ("serve", ["ckpt_path=x"], "", schema.ServeSchema),
    ]
    found = []

    def walk(config: str, choices: list[str], prefix: str, node: type) -> None:
        hints = typing.get_type_hints(node)
        for item in dataclasses.fields(node):
            kind = hints[item.name]
            for candidate in typing.get_args(kind) or (kind,):
                if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
                    key = f"{prefix}.{item.name}".lstrip(".")  # a top-level option of eval.py or export.py
                    found.append((config, choices, key, [member.value for member in candidate]))
                elif dataclasses.is_dataclass(candidate):
                    walk(config, choices, f"{prefix}.{item.name}", candidate)

    for config, choices, prefix, node in roots:
        walk(config, choices, prefix, node)
    return found


ENUM_OPTIONS = enum_options()


@pytest.mark.parametrize(
    ("config", "choices", "key", "valid"), ENUM_OPTIONS, ids=[key for _, _, key, _ in ENUM_OPTIONS]
)
def test_a_wrong_choice_fails_at_composition_naming_the_valid_ones(tmp_path, config, choices, key, valid):
    """Every option with a fixed set of values is an Enum that Hydra checks before any data or model is built."""
    with pytest.raises(ConfigCompositionException) as raised:
        compose_config([*choices, f"{key}=nonsense"], tmp_path, config_name=config)
    assert f"Invalid value 'nonsense', expected one of [{', '.join(valid)}]" in str(raised.value.__cause__)


def test_every_fixed_choice_is_checked_above():
    keys = {key for _, _, key, _ in ENUM_OPTIONS}
    assert {"finetune.strategy", "backbone.head.kind", "scheduler.name", "scheduler.mode", "data.crop_mode"} <= keys
    assert {"lr_find.phase", "split", "format", "calibration"} <= keys
    assert {"data.cache", "data.verify", "data.augment.policy", "data.on_duplicate", "data.worker_mode"} <= keys
