"""The LitServe server of serve.py: the model's API at POST /predict behind the upload gate, LitServe's own
/health, and the page (GET /, its files under /page/, the model's description at GET /model)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import litserve as ls
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, JSONResponse

from inception_tl.serving.api import ClassifierAPI
from inception_tl.serving.gate import UploadGate

PAGE = resources.files("inception_tl.serving") / "page"


def build_server(
    api: ClassifierAPI,
    *,
    description: dict[str, Any],
    accelerator: str,
    workers_per_device: int,
    timeout: float,
    max_upload_bytes: int,
) -> ls.LitServer:
    server = ls.LitServer(
        api,
        accelerator=accelerator,
        workers_per_device=workers_per_device,
        timeout=timeout,
        middlewares=[(UploadGate, {"path": api.api_path, "max_bytes": max_upload_bytes})],
        model_metadata=description,
        # ZeroMQ between the HTTP process and the inference workers instead of a multiprocessing manager's queues
        # (a round trip to the manager process per message).
        fast_queue=True,
    )
    add_page(server, description)
    return server


def add_page(server: ls.LitServer, description: dict[str, Any]) -> None:
    """GET / serves the page instead of LitServe's "litserve running"; its files ship in the package (no CDN:
    many servers have no internet)."""
    app = server.app
    app.router.routes = [route for route in app.router.routes if getattr(route, "path", None) != "/"]

    async def page() -> FileResponse:
        return FileResponse(str(PAGE / "index.html"))

    async def model() -> JSONResponse:
        return JSONResponse(description)

    app.add_api_route("/", page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/model", model, methods=["GET"])
    app.mount("/page", StaticFiles(directory=str(PAGE)), name="page")
