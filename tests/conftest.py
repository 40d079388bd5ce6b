"""Shared fixtures (an image tree, a loopback HTTP server) and the test processes' thread count; the helpers
the tests import are in helpers.py."""

from __future__ import annotations

import collections
import functools
import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist workers share the machine's cores: one thread each, for this process and the CLIs it starts.
    # Otherwise each process starts a thread per core and they oversubscribe the cores (measured on 2 cores:
    # 7 min 32 s for the suite with one thread each, 8 min 46 s with the CLIs at torch's default).
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def data_dir_of_this_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """paths.data_dir's default (conf/paths/default.yaml reads INCEPTION_TL_DATA_DIR) in the session's temporary
    folder, for this process and the ones it starts: a test that composes without paths.data_dir writes its
    generated images and decoded caches there, not into the user's ~/.cache/inception_tl (which held 338 MB of
    the suite's caches before)."""
    folder = tmp_path_factory.mktemp("data_dir")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INCEPTION_TL_DATA_DIR", str(folder))
        yield folder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with the most slow tests first: pytest-xdist hands out whole files in this order (addopts turns
    its own reordering off), so the long ones start at once and the many short ones fill the gaps at the end."""
    slow_tests = collections.Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow_tests[item.path])


@pytest.fixture(scope="module")
def shared_tmp(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], Path]]:
    """Folders for a file's shared runs, removed once the file's tests have passed (kept if one failed, as
    pyproject's tmp_path_retention_policy does for a test's own tmp_path). Each run writes checkpoints of
    hundreds of MB: kept to the session's end, the suite's folders reached 9.6 GB and filled a CI machine's disk."""
    made: list[Path] = []
    failed_before = request.session.testsfailed

    def make(name: str) -> Path:
        made.append(tmp_path_factory.mktemp(name))
        return made[-1]

    yield make
    if request.session.testsfailed == failed_before:
        for path in made:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def image_tree(tmp_path: Path) -> Callable[..., Path]:
    from tests.helpers import write_image_tree  # after the thread setting above, as torch comes with it

    return functools.partial(write_image_tree, tmp_path / "images")


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder): a loopback server for files the test puts into the folder."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # keep pytest output readable
        pass
