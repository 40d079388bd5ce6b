"""An extraction that fails or is killed half way never leaves a folder that looks complete."""

import os
import signal
import zipfile
from pathlib import Path

import pytest

from inception_tl.data.sources.extract import extract_zip
from inception_tl.errors import DataError
from tests.helpers import run_in_forked_child

MEMBERS = {f"horses/horse{index}.txt": f"horse number {index} " * 200 for index in range(5)}


def build_zip(path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in MEMBERS.items():
            archive.writestr(name, text)


def test_a_corrupt_member_is_an_error_naming_the_archive_and_leaves_no_folder(tmp_path):
    archive = tmp_path / "data.zip"
    build_zip(archive)
    data = bytearray(archive.read_bytes())
    offset = data.index(b"horse number 3")  # stored uncompressed: flip bytes of the fourth member
    data[offset : offset + 5] = b"HORSE"
    archive.write_bytes(bytes(data))
    with pytest.raises(DataError, match=rf"{archive} is not a valid zip archive .*Bad CRC-32"):
        extract_zip(archive, tmp_path / "train")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.zip"]  # no train/, no staging folder


def extract_then_die(archive: Path, destination: Path) -> None:
    """Extracts in a forked child, which dies by SIGKILL once three members are written."""
    written = []
    real_extract = zipfile.ZipFile._extract_member

    def extract_member_then_die(self, member, path, pwd):
        written.append(member)
        if len(written) == 4:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_extract(self, member, path, pwd)

    zipfile.ZipFile._extract_member = extract_member_then_die  # in the child only
    extract_zip(archive, destination)


def test_an_extraction_killed_half_way_is_redone_on_the_next_run(tmp_path):
    archive, destination = tmp_path / "data.zip", tmp_path / "train"
    build_zip(archive)
    assert run_in_forked_child(extract_then_die, archive, destination) == -signal.SIGKILL
    assert not destination.exists()  # what was written is in a hidden staging folder
    assert len(list(tmp_path.glob(".train.partial-*"))) == 1

    extract_zip(archive, destination)
    extracted = {str(p.relative_to(destination)): p.read_text() for p in destination.rglob("*.txt")}
    assert extracted == MEMBERS
    assert list(tmp_path.glob(".train.partial-*")) == []  # the killed run's leftovers are gone
