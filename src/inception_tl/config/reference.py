"""The option reference, written from the schemas themselves: each option's name, type, choices, default and the
comment above it in the schema's source. The documentation's `reference.md` is this text (docs/hooks/options.py
puts it there at build time), so a default is stated once, in its schema, and the docs cannot drift from it."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import io
import re
import tokenize
import typing
from typing import Any

from omegaconf import MISSING

from inception_tl.config import schema
from inception_tl.data.options import MixOptions
from inception_tl.finetune.config import FinetuneConfig


def field_comments(cls: type) -> dict[str, str]:
    """The comment lines directly above each field of a dataclass, by field name, from its source."""
    source = inspect.getsource(cls)
    comments: dict[str, str] = {}
    pending: list[str] = []
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    line_start = True
    for token in tokens:
        if token.type == tokenize.COMMENT:
            pending.append(token.string.lstrip("#").strip())
        elif token.type == tokenize.NAME and line_start and token.start[1] == 4:
            if pending:
                comments[token.string] = " ".join(pending)
            pending = []
        elif line_start and token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            pending = []
        line_start = token.type in (tokenize.NEWLINE, tokenize.NL, tokenize.DEDENT, tokenize.INDENT)
    return comments


def type_name(kind: Any) -> str:
    """A type as a reader knows it: `int`, `float or null`, `list`, a choice's name."""
    args = typing.get_args(kind)
    if args and type(None) in args:
        return " or ".join(type_name(arg) for arg in args if arg is not type(None)) + " or null"
    if typing.get_origin(kind) in (list, tuple):
        return "list"
    if typing.get_origin(kind) is dict:
        return "mapping"
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "choice"
    return getattr(kind, "__name__", str(kind)).replace("Any", "any")


def default_text(item: dataclasses.Field) -> str:
    if item.default_factory is not dataclasses.MISSING:
        value = item.default_factory()
        return "" if dataclasses.is_dataclass(value) else f"`{value}`"
    value = item.default
    if value is MISSING or value is dataclasses.MISSING:
        return "required"
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return "`null`"
    if isinstance(value, str) and "${" in value:
        return f"`{value}`"
    return f"`{value}`"


def option_rows(cls: type, prefix: str, comments_from: type | None = None) -> list[str]:
    """A table row per option of `cls` (nested dataclasses as their own rows, dotted)."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(comments_from or cls)
    rows = []
    for item in dataclasses.fields(cls):
        if item.name.startswith("_"):  # _target_: the class it builds
            continue
        kind = hints[item.name]
        # An Optional's members; a list or mapping is one option, whatever it holds.
        candidates = (kind,) if typing.get_origin(kind) in (list, tuple, dict) else typing.get_args(kind) or (kind,)
        nested = next((c for c in candidates if isinstance(c, type) and dataclasses.is_dataclass(c)), None)
        key = f"{prefix}.{item.name}" if prefix else item.name
        if not prefix and kind is Any:  # an entry script's config group (data, trainer, ...): its own section
            continue
        if nested is not None:
            rows += option_rows(nested, key)
            continue
        choices = next((c for c in candidates if isinstance(c, type) and issubclass(c, enum.Enum)), None)
        allowed = ", ".join(f"`{member.value}`" for member in choices) if choices else ""
        comment = comments.get(item.name) or (inspect.getdoc(choices) if choices else "") or ""
        text = re.sub(r"\s+", " ", comment).replace("|", "\\|")
        rows.append(f"| `{key}` | {type_name(kind)} | {default_text(item)} | {allowed} | {text} |")
    return rows


# The schema of each config group (or node), in the order a reader meets them.
SECTIONS = [
    ("train.py", "", schema.TrainSchema, None),
    ("backbone", "backbone", schema.BackboneSchema, None),
    ("data", "data", schema.DataSchema, None),
    ("finetune", "finetune", schema.finetune_schema(), FinetuneConfig),
    ("optim", "optim", schema.OptimSchema, None),
    ("scheduler=cosine", "scheduler", schema.CosineSchema, None),
    ("scheduler=plateau", "scheduler", schema.PlateauSchema, None),
    ("loss", "loss", schema.LossSchema, None),
    ("mixup", "mixup", MixOptions, None),
    *((f"data={name}: data.source", "data.source", source, None) for name, source in schema.SOURCES.items()),
    *((f"callbacks.{name}", f"callbacks.{name}", callback, None) for name, callback in schema.CALLBACKS.items()),
    ("lr_find (lr_find.py)", "lr_find", schema.LrFindSchema, None),
    ("eval.py", "", schema.EvalSchema, None),
    ("export.py", "", schema.ExportSchema, None),
    ("serve.py", "", schema.ServeSchema, None),
    ("shards.py", "", schema.ShardsSchema, None),
]
HEADER = ["| option | type | default | choices | what it sets |", "| --- | --- | --- | --- | --- |"]


def options_markdown() -> str:
    """Every option of every schema, a table per group; a group's YAML options state only what differs."""
    parts = []
    for title, prefix, cls, comments_from in SECTIONS:
        doc = inspect.getdoc(cls if comments_from is None else comments_from) or ""
        parts.append(f"## {title}\n\n{doc}\n\n" + "\n".join([*HEADER, *option_rows(cls, prefix, comments_from)]))
    return "\n\n".join(parts) + "\n"
