"""Serve a model over HTTP with a page (`serve.py`): LitServe with dynamic batching, on the GPU when there is one."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from omegaconf import DictConfig

from inception_tl.config.schema import Accelerator
from inception_tl.console import console
from inception_tl.errors import ConfigError, require_extra
from inception_tl.models.loading import HUB_PREFIX, download_hub_folder, load_classifier


def check_options(options: DictConfig) -> None:
    for key in ("max_batch_size", "top_k", "workers_per_device", "port"):
        if options[key] < 1:
            raise ConfigError(f"serve.{key}={options[key]}: give a positive number.")
    for key in ("batch_timeout", "max_upload_mb", "max_megapixels", "timeout"):
        if options[key] <= 0 and not (key == "batch_timeout" and options[key] == 0):
            raise ConfigError(f"serve.{key}={options[key]}: give a positive number.")


def serve(cfg: DictConfig) -> None:
    """Load the model once here (a wrong path or hub name stops here, in one line), then start the server."""
    options = cfg.serve
    check_options(options)
    require_extra("litserve", "serve", "serve.py")
    require_extra("multipart", "serve", "serve.py (its uploads)")
    from inception_tl.serving.api import ClassifierAPI
    from inception_tl.serving.identity import model_identity
    from inception_tl.serving.server import build_server

    source = str(cfg.ckpt_path)
    local = download_hub_folder(source.removeprefix(HUB_PREFIX)) if source.startswith(HUB_PREFIX) else Path(source)
    model = load_classifier(str(local))
    identity = model_identity(local.expanduser(), options.name)
    description = {
        "name": identity.name,
        "version": identity.version,
        "class_names": model.class_names,
        "multi_label": model.objective.multi_label,
        "backbone": model.hparams.backbone["name"],
    }
    api = ClassifierAPI(
        str(local),
        identity,
        max_batch_size=options.max_batch_size,
        batch_timeout=options.batch_timeout,
        max_pixels=int(options.max_megapixels * 1e6),
        top_k=min(options.top_k, len(model.class_names)),
        precision=options.precision,
        channels_last=cfg.channels_last,
    )
    server = build_server(
        api,
        description=description,
        accelerator=Accelerator(options.accelerator).value,
        workers_per_device=options.workers_per_device,
        timeout=options.timeout,
        max_upload_bytes=int(options.max_upload_mb * 2**20),
    )
    del model
    address = f"http://{options.host}:{options.port}"
    console.print(f"Serving [bold]{identity.name}[/bold] ({identity.version}) at {address}/ — POST /predict, "
                  "GET /health; Ctrl+C stops.")
    logging.getLogger("litserve").setLevel(logging.WARNING)  # its INFO lines repeat the address and list workers
    stopping = threading.Event()
    stop_on_signals(server, stopping)
    noise = ShutdownNoise(stopping)
    logging.getLogger("litserve.server").addFilter(noise)
    logging.getLogger("uvicorn.error").addFilter(noise)  # the HTTP process, forked below, inherits it
    server.run(host=options.host, port=options.port, generate_client_file=False, log_level="warning")
    console.print("Server stopped.")


class ShutdownNoise(logging.Filter):
    """Two tracebacks of a normal stop, both races in LitServe's shutdown and harmless (everything is stopping):
    its worker monitor polls the shutdown event after its manager has gone and logs the broken pipe as a crash;
    and after Ctrl+C, which reaches the HTTP process too, that process is terminated while it shuts down, and
    Starlette reports the cancelled lifespan as a failure."""

    def __init__(self, stopping: threading.Event) -> None:
        super().__init__()
        self.stopping = stopping

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.stopping.is_set() and message.startswith("Monitoring worker crashed"):
            return False
        return not (message.startswith("Traceback") and message.rstrip().endswith("CancelledError"))


def stop_on_signals(server: Any, stopping: threading.Event) -> None:
    """Ctrl+C and SIGTERM (docker stop, systemd) end the server through LitServe's own shutdown event, the path of
    its shutdown endpoint: the workers finish their loop and exit, with no traceback from any process. (LitServe's
    KeyboardInterrupt path tears the request queue down under the workers, and each prints its traceback.)"""

    main = os.getpid()

    def stop(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != main:
            # A process forked from this one (LitServe's queue manager) inherits this handler; systemd signals
            # every process of the service at once, and the manager must outlive the shutdown that uses it.
            return
        event = getattr(server, "_shutdown_event", None)
        if event is None:  # still starting: nothing to hand over yet
            raise KeyboardInterrupt
        stopping.set()
        # From another thread: the main thread is inside the event's own wait(), on the same manager connection.
        threading.Thread(target=event.set, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
