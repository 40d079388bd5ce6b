"""Labels from a CSV: one row per image, a path (relative to the images folder, or absolute), a label (or,
multi-label, several, separated), and an optional split column. Read into the same listing the class folders
give (`listing.py`), so the scan, splits, duplicate check and cache treat both alike; every problem of the
table is collected, with its line, and reported with the unreadable images."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from inception_tl.data.inspect.listing import SPLITS, Label, Listing, Sample, class_problems
from inception_tl.data.options import TableColumns

LINES_SHOWN = 10


def lines_text(lines: list[int]) -> str:
    shown = ", ".join(str(line) for line in lines[:LINES_SHOWN])
    return shown + (f" and {len(lines) - LINES_SHOWN} more" if len(lines) > LINES_SHOWN else "")


def row_labels(cell: str, multi_label: bool, separator: str) -> list[str]:
    """The label names a cell holds: the whole cell, or (multi-label) its distinct `separator`-separated parts."""
    if not multi_label:
        return [cell.strip()] if cell.strip() else []
    return list(dict.fromkeys(part.strip() for part in cell.split(separator) if part.strip()))


def read_rows(table: Path, columns: TableColumns, listing: Listing) -> list[tuple[int, dict[str, str]]]:
    """(line, row) for each data row; missing columns become a problem (and no rows)."""
    with open(table, newline="", encoding="utf-8-sig") as handle:  # -sig: a spreadsheet's byte-order mark
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = header
        absent = [name for name in (columns.path, columns.label) if name not in header]
        if absent:
            listing.problems.append(
                f"{table} has no column {' or '.join(map(repr, absent))} (its columns: {header}). Name the path "
                "and label columns with data.columns.path=... and data.columns.label=..."
            )
            return []
        rows = []
        for row in reader:
            rows.append((reader.line_num, {key: (value or "") for key, value in row.items() if key is not None}))
        return rows


def list_table(table: Path, images: Path, columns: TableColumns, multi_label: bool, separator: str) -> Listing:
    """The images and labels of `table`, relative paths under `images`; class names are the training rows'
    labels, sorted (as class folders are). Rows without a split (no split column, or an empty cell) train.

    Each split's candidates are sorted by class, then path (multi-label: by path), the order class folders
    give: the same images listed either way split identically, whatever the rows' order.
    """
    listing = Listing(root=table, kind="table")
    rows = read_rows(table, columns, listing)
    empty_path, empty_label, unknown_split = [], [], defaultdict(list)
    first_line: dict[str, int] = {}
    repeated: list[str] = []
    separated: list[int] = []  # single-label cells that hold the separator: probably several labels
    entries: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for line, row in rows:
        cell = row.get(columns.path, "").strip()
        names = row_labels(row.get(columns.label, ""), multi_label, separator)
        if not multi_label and separator and separator in row.get(columns.label, ""):
            separated.append(line)
        split = (row.get(columns.split, "").strip() or "train").lower()
        if not cell:
            empty_path.append(line)
        if not names:
            empty_label.append(line)
        if split not in SPLITS:
            unknown_split[split].append(line)
        if not cell or not names or split not in SPLITS:
            continue
        path = str(Path(cell).expanduser() if Path(cell).expanduser().is_absolute() else images / cell)
        if path in first_line:
            repeated.append(f"line {line} repeats line {first_line[path]}'s {cell}")
            continue
        first_line[path] = line
        entries[split].append((path, names))

    if empty_path:
        listing.problems.append(f"{table}: empty {columns.path!r} on line(s) {lines_text(empty_path)}.")
    if empty_label:
        listing.problems.append(f"{table}: empty {columns.label!r} on line(s) {lines_text(empty_label)}.")
    for split, lines in unknown_split.items():
        listing.problems.append(
            f"{table}: split {split!r} on line(s) {lines_text(lines)} is none of train, val, test "
            f"(column {columns.split!r}; an empty cell means train)."
        )
    if separated:
        example = next(row.get(columns.label, "") for line, row in rows if line == separated[0])
        listing.problems.append(
            f"{table}: the label cells on line(s) {lines_text(separated)} hold the separator {separator!r} (line "
            f"{separated[0]}: {example.strip()!r}): set data.multi_label=true to read them as several labels each, "
            f"or data.label_separator to another character if {separator!r} belongs to the class names."
        )
    if repeated:
        listing.problems.append(f"{table}: an image is listed twice: {'; '.join(repeated[:LINES_SHOWN])}.")
    if rows and not entries.get("train"):
        listing.problems.append(f"{table} has no training rows (every row's split is val or test).")

    split_classes = {split: sorted({name for _, names in pairs for name in names}) for split, pairs in entries.items()}
    listing.problems.extend(
        class_problems(split_classes, lambda split: f"the {split} split of {table}", "label", "train")
    )
    listing.class_names = split_classes.get("train", [])
    index = {name: position for position, name in enumerate(listing.class_names)}
    for split, pairs in entries.items():
        samples: list[Sample] = []
        for path, names in pairs:
            known = sorted(index[name] for name in names if name in index)
            if known:  # labels absent from train are a problem above
                label: Label = tuple(known) if multi_label else known[0]
                samples.append((path, label))
        order = (lambda sample: Path(sample[0])) if multi_label else (lambda sample: (sample[1], Path(sample[0])))
        listing.candidates[split] = sorted(samples, key=order)
    return listing
