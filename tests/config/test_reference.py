"""The option reference (docs/reference.md, written from the schemas at build time) lists every option of every
schema with its default, so the documentation cannot drift from the code."""

import dataclasses
import enum
import typing

from inception_tl.config import schema
from inception_tl.config.reference import SECTIONS, options_markdown


def leaf_options(cls: type, prefix: str) -> dict[str, object]:
    found = {}
    for item in dataclasses.fields(cls):
        if item.name.startswith("_") or (not prefix and item.type in ("Any", typing.Any)):  # an entry's group
            continue
        value = item.default_factory() if item.default_factory is not dataclasses.MISSING else item.default
        if dataclasses.is_dataclass(value):
            found |= leaf_options(type(value), f"{prefix}.{item.name}" if prefix else item.name)
        else:
            key = f"{prefix}.{item.name}" if prefix else item.name
            found[key] = value.value if isinstance(value, enum.Enum) else value
    return found


def test_every_option_of_every_schema_is_listed_with_its_default():
    text = options_markdown()
    sections = {part.split("\n", 1)[0]: part for part in text.split("## ")[1:]}
    for title, prefix, cls, _ in SECTIONS:
        lines = sections[title].splitlines()
        rows = {line.split("|")[1].strip().strip("`"): line for line in lines if line.startswith("| `")}
        for key, default in leaf_options(cls, prefix).items():
            assert key in rows, key
            if default == "???":  # omegaconf's MISSING: the option must be given
                assert "| required |" in rows[key], rows[key]
            elif default is None:
                assert "`null`" in rows[key], rows[key]
            elif isinstance(default, (int, float, str)) and not isinstance(default, bool) and "${" not in str(default):
                assert f"`{default}`" in rows[key], rows[key]
    assert "| `data.crop_mode` | choice or null | `null` | `center`, `squash`, `border` |" in text
    assert (
        "| `finetune.strategy` | choice | `full` | `full`, `linear_probe`, `warmup`, `gradual`, `milestones` |" in text
    )


def test_every_schema_the_config_registers_has_a_section():
    documented = {cls for _, _, cls, _ in SECTIONS}
    for cls in (schema.BackboneSchema, schema.DataSchema, schema.OptimSchema, schema.CosineSchema):
        assert cls in documented
    titles = {title for title, *_ in SECTIONS}
    assert titles >= {"train.py", "finetune", "mixup", "scheduler=plateau", "eval.py", "export.py"}
