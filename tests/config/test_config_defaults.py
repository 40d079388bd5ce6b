"""Each fact is stated once: the typed schemas hold every default, and an option's YAML states only what
differs from them (so changing a default means changing one line, in the schema)."""

import dataclasses
import importlib
import inspect
from typing import Any

import pytest
from omegaconf import OmegaConf

from inception_tl.config.schema import (
    CALLBACKS,
    SOURCES,
    BackboneSchema,
    CosineSchema,
    DataSchema,
    HeadSchema,
    OptimSchema,
    PlateauSchema,
    finetune_schema,
)
from inception_tl.data import ImageDataModule
from inception_tl.models.backbone import create_backbone
from inception_tl.models.head import build_head
from tests.helpers import CONFIG_DIR, compose_config

SCHEMAS = {
    "backbone": BackboneSchema,
    "data": DataSchema,
    "finetune": finetune_schema(),
    "optim": OptimSchema,
    "scheduler": {"cosine": CosineSchema, "plateau": PlateauSchema},  # a schema per option
}
OPTIONS = [(group, path) for group in SCHEMAS for path in sorted((CONFIG_DIR / group).glob("*.yaml"))]


def schema_of(group: str, path) -> type:
    schema = SCHEMAS[group]
    return schema[path.stem] if isinstance(schema, dict) else schema


def leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value for every leaf of nested mappings (lists are leaves)."""
    if not isinstance(node, dict):
        return {prefix: node}
    found: dict[str, Any] = {}
    for key, value in node.items():
        found.update(leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return found


@pytest.mark.parametrize(("group", "path"), OPTIONS, ids=[f"{group}/{path.stem}" for group, path in OPTIONS])
def test_no_option_restates_a_schema_default(group, path):
    stated = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    stated.pop("defaults", None)
    schema = OmegaConf.structured(schema_of(group, path))
    defaults = leaves(OmegaConf.to_container(schema, resolve=False, enum_to_str=True))
    restated = {key: value for key, value in leaves(stated).items() if key in defaults and defaults[key] == value}
    assert not restated, f"conf/{group}/{path.name} restates the schema's defaults: {restated}"


def test_the_options_still_compose_to_the_documented_values(tmp_path):
    """The defaults moved into the schemas, not away: what a run gets is what it got before."""
    cfg = compose_config(["paths.data_dir=/data"], tmp_path)
    assert cfg.data.num_workers == 8
    assert cfg.data.seed == cfg.seed == 42
    assert cfg.data.augment.crop_scale == [0.5, 1.0]
    assert cfg.data.cache_dir == "/data/decoded"
    assert cfg.backbone.head.kind == "linear"
    assert (cfg.finetune.strategy, cfg.finetune.warmup_epochs, cfg.finetune.backbone_lr_scale) == ("warmup", 2, 0.1)
    shapes = compose_config(["data=shapes", "finetune=full"], tmp_path)
    assert (shapes.data.num_workers, shapes.data.source.train_per_class) == (2, 500)
    assert (shapes.finetune.strategy, shapes.finetune.backbone_lr_scale) == ("full", 1.0)
    cifar = compose_config(["data=cifar10", "finetune=gradual"], tmp_path)
    assert (cifar.data.batch_size, cifar.data.val_split) == (64, 0.1)
    assert (cifar.finetune.lr_decay, cifar.finetune.min_lr_scale) == (0.8, 0.01)


# What each schema configures: these take the schema's values without stating defaults of their own.
BUILT_FROM = [(DataSchema, ImageDataModule), (BackboneSchema, create_backbone), (HeadSchema, build_head)]


@pytest.mark.parametrize(("schema", "built"), BUILT_FROM, ids=[built.__name__ for _, built in BUILT_FROM])
def test_no_signature_restates_a_schema_default(schema, built):
    parameters = inspect.signature(built).parameters
    options = {item.name for item in dataclasses.fields(schema)} & parameters.keys()
    assert options, "the signature takes the schema's options"
    restated = {
        name: parameters[name].default for name in options if parameters[name].default is not inspect.Parameter.empty
    }
    assert not restated, f"{built.__name__} restates {schema.__name__}'s defaults: {restated}"


def instantiated_nodes() -> list[tuple[str, str, dict[str, Any]]]:
    """(YAML file, target, the keys it supplies) for every node of conf/ that builds one of this project's classes."""
    found = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            target = node.get("_target_")
            if isinstance(target, str) and target.startswith(("inception_tl.", "hydra_plugins.inception_tl")):
                found.append((path, target, {k: v for k, v in node.items() if not str(k).startswith("_")}))
            for value in node.values():
                walk(value, path)

    for path in sorted(CONFIG_DIR.rglob("*.yaml")):
        walk(OmegaConf.to_container(OmegaConf.load(path), resolve=False), str(path.relative_to(CONFIG_DIR)))
    for name, node in [*SOURCES.items(), *CALLBACKS.items()]:  # schemas that supply every option of their class
        fields = {item.name: None for item in dataclasses.fields(node) if not item.name.startswith("_")}
        found.append((f"{node.__name__} ({name})", node._target_, fields))
    return [(path, target, supplied) for path, target, supplied in found if signature_is_ours(target)]


def built_by(target: str) -> Any:
    """The class or function a `_target_` names."""
    module, name = target.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def signature_is_ours(target: str) -> bool:
    """Whether the defaults of `target`'s parameters are written here: not for a subclass that keeps its
    library's __init__ (EvaluationCheckpoint's are Lightning's ModelCheckpoint's)."""
    built = built_by(target)
    init = built.__init__ if inspect.isclass(built) else built
    return getattr(init, "__module__", "").startswith(("inception_tl", "hydra_plugins"))


NODES = instantiated_nodes()


@pytest.mark.parametrize(("path", "target", "supplied"), NODES, ids=[f"{p}:{t.rsplit('.', 1)[1]}" for p, t, _ in NODES])
def test_no_class_the_config_builds_restates_a_default_the_config_supplies(path, target, supplied):
    """A default in both the YAML and the signature is two facts that drift apart (Shapes took 150 training images
    a class when built in Python, 500 from the config): the config's value is the one statement."""
    built = built_by(target)
    parameters = inspect.signature(built).parameters
    restated = {
        key: parameters[key].default
        for key in supplied
        if key in parameters and parameters[key].default is not inspect.Parameter.empty
    }
    name = built.__name__
    assert not restated, f"conf/{path} supplies {sorted(restated)} to {name}, whose signature restates {restated}"


def test_the_check_above_sees_every_class_the_config_builds():
    built = {target.rsplit(".", 1)[1] for _, target, _ in NODES}
    assert {"Shapes", "ShapeTags", "EMAWeights", "FeatureCache", "StepSeed", "OptunaSearch"} <= built
