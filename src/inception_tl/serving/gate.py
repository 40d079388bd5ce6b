"""In front of LitServe's /predict: every upload is read (up to its size limit), parsed and checked here, in the
HTTP process, and reaches LitServe as `{"image": "<base64>"}`; anything else is answered with a 4xx JSON error.

Why not in the LitAPI: LitServe parses the body itself (a body that is not JSON or a form is a 500 there), and an
exception in `decode_request` fails every request batched with it. What only decoding can tell (not an image,
truncated, too many pixels) is found in the inference worker, which answers that request alone (`api.py`).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inception_tl.serving.uploads import (
    ACCEPTED,
    IMAGE_FIELDS,
    UploadError,
    check_image_bytes,
    image_from_json,
    media_type,
)


class UploadGate:
    """ASGI middleware for POST `path`: size limit, content type, parsing; the body handed on is JSON."""

    def __init__(self, app: ASGIApp, path: str, max_bytes: int) -> None:
        self.app, self.path, self.max_bytes = app, path, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            body = await self.read_body(scope, receive)
            image = await self.image_of(scope, body)
        except UploadError as error:
            await JSONResponse(error.body(), status_code=error.status)(scope, receive, send)
            return
        # ?cam=true: the answer carries the class-activation map of its top class (api.py).
        explain = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("cam", ["false"])[-1].lower()
        payload = json.dumps({
            "image": base64.b64encode(image).decode("ascii"),
            "cam": explain in ("true", "1", "yes"),
        }).encode()
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # the client's disconnect, as the app would see it
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)

    async def read_body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, refused as soon as its declared or received size passes the limit."""
        limit_text = f"{self.max_bytes / 2**20:g} MB (serve.max_upload_mb)"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise UploadError(413, f"The upload is {int(declared) / 2**20:.1f} MB, over this server's {limit_text}.")
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise UploadError(413, f"The upload is over this server's {limit_text}.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def image_of(self, scope: Scope, body: bytes) -> bytes:
        """The image bytes of a multipart form, a JSON body or a raw image body."""
        content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
        kind = media_type(content_type)
        if not body:
            raise UploadError(400, f"The request has no body: send an image file as {ACCEPTED}.")
        if kind == "multipart/form-data":
            return check_image_bytes(await self.form_image(scope, body))
        if kind == "application/json":
            return check_image_bytes(image_from_json(body))
        if kind.startswith("image/") or kind == "application/octet-stream":
            return check_image_bytes(body)
        shown = kind or "none"
        raise UploadError(415, f"Content-Type {shown} is not accepted: send {ACCEPTED}.")

    @staticmethod
    async def form_image(scope: Scope, body: bytes) -> bytes:
        async def once() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            form = await Request(scope, once).form()
        except Exception as error:  # python-multipart's parse errors, a missing boundary
            raise UploadError(400, f"The multipart form cannot be parsed ({error}).") from None
        for field in IMAGE_FIELDS:
            value = form.get(field)
            if isinstance(value, UploadFile):
                return await value.read()
        raise UploadError(400, "The form has no file field `image`: send the file as -F image=@photo.jpg.")
