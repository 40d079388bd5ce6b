"""The model behind POST /predict: LitServe's `LitAPI`, batched dynamically. Each upload is decoded as predict.py
decodes a file and takes the same batch step (`batch_probabilities`), so it gets predict.py's numbers.

An upload that cannot be decoded becomes a `UploadError` in its place in the batch: the others are predicted, and
it alone is answered with its 4xx (a LitAPI that raised would fail the whole batch).
"""

from __future__ import annotations

import base64
import io
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import litserve as ls
import numpy as np
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from PIL import Image
from starlette.responses import JSONResponse

from inception_tl.data.device import BatchTransform
from inception_tl.data.store import StorageSpec
from inception_tl.data.worker import collate_images
from inception_tl.data.worker.items import item_to_predict
from inception_tl.evaluation.cam import activation_maps, choose_target
from inception_tl.evaluation.cam_report import overlay
from inception_tl.evaluation.file_predictions import batch_probabilities
from inception_tl.models.loading import load_classifier
from inception_tl.serving.uploads import UploadError, decode_upload


@dataclass(frozen=True)
class ModelIdentity:
    """What every answer says of the model: its name, and a version that changes when its weights do."""

    name: str
    version: str


@dataclass(frozen=True)
class Answer:
    """One upload's probabilities, how many uploads shared its forward pass, and the map asked for (a PNG)."""

    probabilities: np.ndarray
    batch_size: int
    cam: bytes | None = None


class ClassifierAPI(ls.LitAPI):
    def __init__(
        self,
        source: str,
        identity: ModelIdentity,
        *,
        max_batch_size: int,
        batch_timeout: float,
        max_pixels: int,
        top_k: int,
        precision: str,
        channels_last: bool,
    ) -> None:
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout, api_path="/predict")
        self.source, self.identity, self.max_pixels, self.top_k = source, identity, max_pixels, top_k
        self.precision_option, self.channels_last = precision, channels_last

    def setup(self, device: str) -> None:
        """In the inference worker: the model on its device (LitServe's choice: the GPU when there is one)."""
        # Ctrl+C reaches every process of the terminal's group: the server's main process stops this worker (a
        # KeyboardInterrupt here would print a traceback mid-request instead).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        torch.set_grad_enabled(False)
        model = load_classifier(self.source).set_channels_last(self.channels_last)
        self.model = model.to(torch.device(device)).eval()
        self.class_names = model.class_names
        self.thresholds = model.objective.thresholds
        # auto: AMP on a GPU as in evaluation; the CPU in full precision (a GPU machine may serve on its CPU too).
        automatic = "16-mixed" if device.startswith("cuda") else "32-true"
        self.precision = automatic if self.precision_option == "auto" else self.precision_option
        preprocessing = dict(model.hparams.preprocessing)
        self.spec = StorageSpec.for_preprocessing(preprocessing)
        self.transform = BatchTransform.for_preprocessing(preprocessing)
        self.mean = torch.tensor(preprocessing["mean"], device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(preprocessing["std"], device=device).view(1, 3, 1, 1)
        self.cam_target = None  # chosen when a map is first asked for

    # decode_request and encode_response stay unannotated: LitServe reads their annotations as the HTTP request
    # and response types (a dict annotation would make FastAPI look for a query parameter).
    def decode_request(self, request):
        try:
            pixels = decode_upload(base64.b64decode(request["image"]), self.spec, self.max_pixels)
        except UploadError as error:
            return error
        return {**item_to_predict(pixels, 0, self.spec, self.transform.size), "cam": bool(request.get("cam"))}

    def batch(self, inputs: Sequence[dict[str, Any] | UploadError]) -> list[dict[str, Any] | UploadError]:
        return list(inputs)  # stacked in predict, around the rejections

    def predict(self, inputs: list[dict[str, Any] | UploadError]) -> list[Answer | UploadError]:
        readable = [item for item in inputs if not isinstance(item, UploadError)]
        found: list[np.ndarray] = []
        if readable:
            batch = collate_images(readable)
            probabilities = batch_probabilities(
                self.model, batch, self.transform, self.precision, multi_label=self.thresholds is not None
            )
            found = list(probabilities.cpu().numpy())
        explained = [(item, p) for item, p in zip(readable, found, strict=True) if item["cam"]]
        pngs = iter(self.maps([item for item, _ in explained], [p for _, p in explained]))
        answers = iter(found)
        results: list[Answer | UploadError] = []
        for item in inputs:
            if isinstance(item, UploadError):
                results.append(item)
            else:
                results.append(Answer(next(answers), len(readable), next(pngs) if item["cam"] else None))
        return results

    def maps(self, items: list[dict[str, Any]], probabilities: list[np.ndarray]) -> list[bytes]:
        """The class-activation map of each item's top class over its evaluation crop, as PNG bytes."""
        if not items:
            return []
        if self.cam_target is None:
            self.cam_target = choose_target(self.model, self.transform.size, None)
        device = next(self.model.parameters()).device
        images = self.transform(move_data_to_device(collate_images(items), device))
        classes = [int(p.argmax()) for p in probabilities]
        maps = activation_maps(self.model, images, classes, self.cam_target)
        crops = (images * self.std + self.mean).clamp(0, 1).permute(0, 2, 3, 1).float().cpu().numpy()
        pngs = []
        for crop, cam in zip(crops, maps, strict=True):
            buffer = io.BytesIO()
            Image.fromarray(overlay(crop, cam)).save(buffer, "PNG")
            pngs.append(buffer.getvalue())
        return pngs

    def unbatch(self, output: list[Answer | UploadError]) -> list[Answer | UploadError]:
        return output

    def encode_response(self, output):
        if isinstance(output, UploadError):
            return JSONResponse(output.body(), status_code=output.status)
        model = {"name": self.identity.name, "version": self.identity.version}
        extra = {"cam": "data:image/png;base64," + base64.b64encode(output.cam).decode("ascii")} if output.cam else {}
        probabilities = {name: float(p) for name, p in zip(self.class_names, output.probabilities, strict=True)}
        if self.thresholds is not None:
            labels = [
                name for name, threshold in zip(self.class_names, self.thresholds, strict=True)
                if probabilities[name] >= threshold
            ]
            return {"model": model, "labels": labels, "probabilities": probabilities, "batch_size": output.batch_size,
                    **extra}
        order = np.argsort(-output.probabilities, kind="stable")[: self.top_k]
        top = [{"label": self.class_names[index], "probability": probabilities[self.class_names[index]]}
               for index in order]
        return {"model": model, "predictions": top, "batch_size": output.batch_size, **extra}
