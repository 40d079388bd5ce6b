"""Open a shard or the shard index by its URL: a local path or file://, http(s):// (retried with a bound in time),
or any other scheme fsspec knows (s3://, gs://, az://, with its package installed).

Why not WebDataset's `gopen`: it reads http(s) through a `curl` subprocess that retries 30 times, 2 s apart, after
a 30 s connection timeout, and reports a failure as a pipe's exit status when the stream closes. Here an
unreachable or missing URL fails in one line that names it, within `retry_seconds`.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

from inception_tl.errors import ConfigError, DataError

# HTTP answers that will not change on a retry: the URL is wrong, or not ours to read.
PERMANENT = {400, 401, 403, 404, 405, 410}


def is_local(url: str) -> bool:
    return urlparse(url).scheme in ("", "file") or (len(url) > 1 and url[1] == ":")  # C:\ on Windows


def local_path(url: str) -> Path:
    parsed = urlparse(url)
    return Path(parsed.path if parsed.scheme == "file" else url).expanduser()


def join_url(base: str, name: str) -> str:
    """`name` (a shard's name in the index) beside the index at `base`; an absolute URL or path as it is."""
    if urlparse(name).scheme or name.startswith("/"):
        return name
    return str(local_path(base) / name) if is_local(base) else f"{base.rstrip('/')}/{name}"


def open_url(url: str, retry_seconds: float = 30.0, timeout: float = 30.0) -> BinaryIO:
    """A binary stream of `url`; a DataError naming it when it is missing, or unreachable for `retry_seconds`."""
    scheme = urlparse(url).scheme
    if is_local(url):
        path = local_path(url)
        if not path.is_file():
            raise DataError(f"Shard file not found: {path}")
        return open(path, "rb")
    if scheme in ("http", "https"):
        return open_http(url, retry_seconds, timeout)
    return open_fsspec(url)


def open_http(url: str, retry_seconds: float, timeout: float) -> BinaryIO:
    """GET `url`, retried with doubling pauses (0.5 s, 1 s, ... at most 8 s) while `retry_seconds` last."""
    deadline, pause, tries = time.monotonic() + retry_seconds, 0.5, 0
    while True:
        tries += 1
        try:
            return urllib.request.urlopen(url, timeout=timeout)
        except urllib.error.HTTPError as error:
            if error.code in PERMANENT:
                raise DataError(f"Cannot read {url}: HTTP {error.code} {error.reason}.") from None
            reason = f"HTTP {error.code} {error.reason}"
        except (urllib.error.URLError, OSError) as error:
            reason = str(getattr(error, "reason", error))
        if time.monotonic() + pause > deadline:
            raise DataError(
                f"Cannot reach {url}: {reason} ({tries} tries in {retry_seconds:g} s; data.source.retry_seconds "
                "sets how long to retry)."
            ) from None
        time.sleep(pause)
        pause = min(pause * 2, 8.0)


def open_fsspec(url: str) -> BinaryIO:
    """s3://, gs://, az:// and the other fsspec schemes, through the package that scheme needs."""
    import fsspec

    protocol = urlparse(url).scheme
    try:
        return fsspec.open(url, "rb").open()
    except ValueError as error:  # fsspec's "Protocol not known"
        raise ConfigError(f"Cannot read {url}: fsspec knows no {protocol}:// scheme ({error}).") from None
    except ImportError as error:  # s3fs, gcsfs, adlfs: the scheme's own package
        raise ConfigError(f"Reading {protocol}:// needs a package that is not installed: {error}") from None
    except FileNotFoundError:
        raise DataError(f"Shard not found: {url}") from None
    except OSError as error:
        raise DataError(f"Cannot read {url}: {error}") from None
