"""Read an offline W&B run (`run-*.wandb`) back: its config, history rows and run record.

The file is a LevelDB-style log: a 7-byte header (":W&B", magic, version), then 32 KiB blocks of
records, each with a 7-byte header (CRC32, length, type: full, first, middle, last) and a protobuf
`wandb_internal_pb2.Record` as payload.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[wandb_internal_pb2.Record]:
    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B run file")
    offset, pending = HEADER, b""
    while offset + HEADER <= len(data):
        if BLOCK - offset % BLOCK < HEADER:  # the rest of a block too short for a header is padding
            offset += BLOCK - offset % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[offset : offset + HEADER])
        payload = data[offset + HEADER : offset + HEADER + length]
        offset += HEADER + length
        if kind in (FIRST, MIDDLE):
            pending += payload
            continue
        if kind not in (FULL, LAST):
            continue
        record = wandb_internal_pb2.Record()
        record.ParseFromString(pending + payload)
        pending = b""
        yield record


def read_run(path: Path) -> dict[str, Any]:
    """{"config": {...}, "history": [{key: value}, ...], "name", "group", "tags"} of an offline run."""
    run: dict[str, Any] = {"config": {}, "history": []}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "config":
            for item in record.config.update:
                key = item.key or "/".join(item.nested_key)
                run["config"][key] = json.loads(item.value_json)
        elif kind == "history":
            row = {}
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                row[key] = json.loads(item.value_json)
            run["history"].append(row)
        elif kind == "run":
            run["name"], run["group"], run["tags"] = (
                record.run.display_name,
                record.run.run_group,
                list(record.run.tags),
            )
    return run
