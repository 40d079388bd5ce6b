"""A bounded load test of serve.py on loopback, beside predict.py's batch throughput on the same model and images.

    python benchmarks/serve_load.py --ckpt outputs/quickstart/<run>/checkpoints/best.ckpt \\
        --images $HOME/.cache/inception_tl/shapes/test

Starts `serve.py` on 127.0.0.1 (a free port; never another address), sends `--requests` uploads (multipart, the
files of `--images` in turn) at each concurrency of `--concurrency`, each level stopped at `--time-limit` seconds,
and prints p50 / p99 latency and images/s per level; then predict.py's path (`predict_files`, batches of
`--predict-batch-size`, its loader workers) over the same files, on the same device. Every answer is checked:
a level whose answers are not all 200 says so.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServerProcess:
    """`python serve.py ckpt_path=... OVERRIDES` on 127.0.0.1, until the context ends (then SIGTERM, as systemd or
    docker stop send)."""

    ckpt_path: str
    overrides: Sequence[str] = ()
    startup_timeout: float = 180.0
    run_dir: Path | None = None

    def __post_init__(self) -> None:
        self.port = free_port()
        self.url = f"127.0.0.1:{self.port}"
        self.output = ""
        self.returncode: int | None = None

    def __enter__(self) -> ServerProcess:
        command = [sys.executable, str(REPO / "serve.py"), f"ckpt_path={self.ckpt_path}", "serve.host=127.0.0.1",
                   f"serve.port={self.port}", *self.overrides]
        if self.run_dir is not None:
            command.append(f"hydra.run.dir={self.run_dir}")
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve.py exited ({self.process.returncode}):\n{self.process.stdout.read()}")
            with contextlib.suppress(OSError):
                if request(self.url, "GET", "/health")[0] == 200:
                    return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"serve.py did not answer /health within {self.startup_timeout:.0f} s:\n{self.output}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.output, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # never leave a server behind
            os.killpg(self.process.pid, signal.SIGKILL)
            self.output, _ = self.process.communicate()
        self.returncode = self.process.returncode

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def request(url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
            timeout: float = 60.0) -> tuple[int, bytes]:
    """(status, body) of one HTTP request on a new connection."""
    host, port = url.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def multipart(data: bytes, filename: str, field: str = "image") -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body holding one file, and its headers."""
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def predict_upload(url: str, path: Path) -> tuple[int, dict]:
    body, headers = multipart(path.read_bytes(), path.name)
    status, answer = request(url, "POST", "/predict", body, headers)
    return status, json.loads(answer)


@dataclass(frozen=True)
class Level:
    concurrency: int
    latencies: list[float]  # seconds, one per answered request
    failures: int
    seconds: float

    @property
    def images_per_s(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1000


def load(url: str, files: Sequence[Path], concurrency: int, requests: int, time_limit: float) -> Level:
    """`requests` uploads with `concurrency` in flight, stopped (no new request) after `time_limit` seconds."""
    payloads = [multipart(path.read_bytes(), path.name) for path in files]
    start = time.perf_counter()
    deadline = start + time_limit

    def one(index: int) -> tuple[float, bool] | None:
        if time.perf_counter() > deadline:
            return None
        body, headers = payloads[index % len(payloads)]
        sent = time.perf_counter()
        status, _ = request(url, "POST", "/predict", body, headers)
        return time.perf_counter() - sent, status == 200

    with ThreadPoolExecutor(concurrency) as pool:
        results = [result for result in pool.map(one, range(requests)) if result is not None]
    seconds = time.perf_counter() - start
    return Level(concurrency, [latency for latency, ok in results if ok], sum(not ok for _, ok in results), seconds)


def predict_throughput(ckpt_path: str, files: Sequence[Path], batch_size: int, workers: int) -> float:
    """images/s of predict.py's path over `files` (after one warm-up pass), on the device serve.py picks."""
    import torch

    from inception_tl.evaluation.file_predictions import predict_files
    from inception_tl.models.loading import load_classifier
    from inception_tl.training.trainer import resolve_precision

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_classifier(ckpt_path).set_channels_last(True).to(device).eval()
    options = dict(batch_size=batch_size, num_workers=workers, tta=False, precision=resolve_precision("auto"),
                   thresholds=model.objective.thresholds)
    predict_files(model, files[:batch_size], dict(model.hparams.preprocessing), model.class_names, **options)
    start = time.perf_counter()
    predict_files(model, files, dict(model.hparams.preprocessing), model.class_names, **options)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(files) / (time.perf_counter() - start)


def image_files(folder: Path, limit: int) -> list[Path]:
    files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"No images under {folder}.")
    return files[:limit]


def table(levels: Sequence[Level], predict_rate: float) -> Iterator[str]:
    yield "| concurrency | requests | p50 ms | p99 ms | images/s | vs predict.py |"
    yield "| --- | --- | --- | --- | --- | --- |"
    for level in levels:
        failed = f" ({level.failures} failed)" if level.failures else ""
        yield (f"| {level.concurrency} | {len(level.latencies)}{failed} | {level.percentile(50):.1f} | "
               f"{level.percentile(99):.1f} | {level.images_per_s:.1f} | {level.images_per_s / predict_rate:.2f}x |")
    yield f"| predict.py (batches) | | | | {predict_rate:.1f} | 1.00x |"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True, help="a checkpoint, an exported folder or hf-hub:user/name")
    parser.add_argument("--images", type=Path, required=True, help="a folder of images (searched recursively)")
    parser.add_argument("--files", type=int, default=200, help="how many of its images to send in turn")
    parser.add_argument("--requests", type=int, default=400, help="requests per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per level, at most")
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--batch-timeout", type=float, default=0.01)
    parser.add_argument("--predict-batch-size", type=int, default=32)
    parser.add_argument("--predict-workers", type=int, default=2)
    args = parser.parse_args(argv)
    files = image_files(args.images.expanduser(), args.files)
    overrides = [f"serve.max_batch_size={args.max_batch_size}", f"serve.batch_timeout={args.batch_timeout}"]
    with ServerProcess(args.ckpt, overrides) as server:
        predict_upload(server.url, files[0])  # the first forward pass pays for one-time set-up
        levels = [load(server.url, files, level, args.requests, args.time_limit) for level in args.concurrency]
    predict_rate = predict_throughput(args.ckpt, files, args.predict_batch_size, args.predict_workers)
    print(f"{len(files)} images from {args.images}; server batches up to {args.max_batch_size}, "
          f"timeout {args.batch_timeout} s")
    for line in table(levels, predict_rate):
        print(line)


if __name__ == "__main__":
    main()
