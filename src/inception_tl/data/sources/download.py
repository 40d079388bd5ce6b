"""Download a file to a cache, verified by size and SHA-256 before it is ever visible under its name."""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from inception_tl.errors import DownloadError

CHUNK_BYTES = 1 << 20
RETRIES = 3
BACKOFF_S = 2.0


class TransientDownloadError(DownloadError):
    """The transfer broke off or the server had a passing fault: worth another attempt."""


@dataclass(frozen=True)
class RemoteFile:
    """A file on the web together with what it must hash to."""

    url: str
    sha256: str
    size: int | None = None

    @property
    def filename(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @classmethod
    def from_config(cls, value: RemoteFile | Mapping) -> RemoteFile:
        return value if isinstance(value, RemoteFile) else cls(**dict(value))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, remote: RemoteFile) -> None:
    """Raise DownloadError unless `path` has the expected size and SHA-256."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        raise DownloadError(
            f"{path} has {size:,} bytes but {remote.url} should have {remote.size:,}. "
            f"Delete the file and run again to download it afresh."
        )
    actual = sha256_of(path)
    if actual != remote.sha256:
        raise DownloadError(
            f"{path} has SHA-256 {actual} but {remote.url} should have {remote.sha256}. "
            f"Delete the file and run again to download it afresh."
        )


def fetch(
    remote: RemoteFile,
    directory: Path,
    timeout_s: float = 60.0,
    retries: int = RETRIES,
    backoff_s: float = BACKOFF_S,
) -> Path:
    """Return the verified local copy of `remote` in `directory`, downloading it if needed.

    The download goes to a temporary file that is renamed only after the checksum matches, so a
    file under the final name is always complete and correct, and a failed download leaves nothing.
    A transfer that breaks off (dropped connection, timeout, short file, server error 5xx) is tried
    again up to `retries` times, waiting `backoff_s`, then twice as long each time. No route to the
    server (offline, DNS, refused) fails at once: waiting would not help.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / remote.filename
    if target.exists():
        verify(target, remote)
        return target
    fd, partial_name = tempfile.mkstemp(dir=directory, prefix=f".{remote.filename}.", suffix=".part")
    os.close(fd)
    partial = Path(partial_name)
    try:
        for attempt in range(retries + 1):
            try:
                with open(partial, "wb") as out:
                    _stream(remote, out, timeout_s)
                if remote.size is not None and partial.stat().st_size < remote.size:
                    raise TransientDownloadError(
                        f"{remote.url} ended after {partial.stat().st_size:,} of {remote.size:,} bytes"
                    )
                break
            except TransientDownloadError as error:
                if attempt == retries:
                    raise DownloadError(f"{error}; gave up after {retries + 1} attempts.") from error
                wait = backoff_s * 2**attempt
                print(f"{error}; trying again in {wait:.0f} s ({attempt + 1}/{retries}).")
                time.sleep(wait)
        verify(partial, remote)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _stream(remote: RemoteFile, out: BinaryIO, timeout_s: float) -> None:
    try:
        with urllib.request.urlopen(remote.url, timeout=timeout_s) as response:
            total = remote.size or int(response.headers.get("Content-Length") or 0) or None
            columns = (*Progress.get_default_columns()[:2], BarColumn(), DownloadColumn(), TransferSpeedColumn())
            with Progress(*columns, transient=True) as progress:
                task = progress.add_task(f"Downloading {remote.filename}", total=total)
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    progress.advance(task, len(chunk))
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            raise TransientDownloadError(f"{remote.url} answered {error.code} {error.reason}") from error
        raise DownloadError(
            f"Could not download {remote.url}: the server answered {error.code} {error.reason}."
        ) from error
    except urllib.error.URLError as error:  # no route, DNS failure, connection refused: offline
        raise DownloadError(f"Could not download {remote.url}: {error.reason}") from error
    except (http.client.HTTPException, ConnectionError, TimeoutError) as error:
        raise TransientDownloadError(f"Downloading {remote.url} broke off ({type(error).__name__}: {error})") from error
    except OSError as error:
        raise DownloadError(f"Could not download {remote.url}: {error}") from error
