"""The LightningModule: backbone + head, the objective of its task type (models/objectives.py), torchmetrics
validation and test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.strategies import DDPStrategy
from omegaconf import OmegaConf
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from inception_tl.config.schema import BackboneSchema
from inception_tl.data.device.mix import draw_mix, mix_batch
from inception_tl.data.options import MixOptions
from inception_tl.errors import ConfigError
from inception_tl.finetune.config import FinetuneConfig
from inception_tl.finetune.param_groups import discriminative_param_groups
from inception_tl.finetune.stages import backbone_stages, require_stage_walk, run_stages
from inception_tl.models.backbone import create_backbone, is_convolutional
from inception_tl.models.head import build_head
from inception_tl.models.objectives import objective_for
from inception_tl.training.callbacks.freeze_schedule import FreezeScheduleCallback
from inception_tl.training.finite_loss import FiniteLossGuard
from inception_tl.training.intervals import at_logging_interval
from inception_tl.training.optim import FUSED_DEVICES, build_optimizer, build_scheduler


def backbone_spec(backbone: Mapping[str, Any]) -> BackboneSchema:
    """The backbone mapping (a config node or a checkpoint's) over BackboneSchema's defaults, typed."""
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(BackboneSchema), dict(backbone)))


class ImageClassifier(L.LightningModule):
    """Fine-tunes a timm backbone (the Inception family by default, any timm model by name) with a new head.

    The checkpoint's hyperparameters carry everything needed to use the model alone: the
    backbone and head config, the class names and the preprocessing (timm data config), and
    `trained_on`: the data config of the training run, unused by the model, kept so that `eval.py` can
    rebuild the same data and splits from the checkpoint alone.

    `finetune` (see `FinetuneConfig`) says which backbone stages are frozen at each epoch and the
    learning rate of each stage group; `FreezeScheduleCallback` moves the model through it. The
    first `frozen_stages` stages run without autograd and keep BatchNorm in inference mode.

    The task type (one class per image, or several labels each) chooses the objective once: the loss, the
    probabilities, the metrics and the post-fit step (a `temperature`, or each label's `thresholds`), kept in
    the hyperparameters so that the checkpoint carries them.

    Example::

        model = ImageClassifier(backbone={"name": "inception_v3", "pretrained": False},
                                class_names=["cat", "dog"], preprocessing=datamodule.preprocessing)
    """

    def __init__(
        self,
        backbone: Mapping[str, Any],
        class_names: Sequence[str],
        preprocessing: Mapping[str, Any],
        optimizer: Mapping[str, Any] | None = None,
        scheduler: Mapping[str, Any] | None = None,
        label_smoothing: float = 0.0,
        class_weights: Sequence[float] | None = None,
        temperature: float = 1.0,
        mixup: Mapping[str, Any] | None = None,
        finetune: Mapping[str, Any] | None = None,
        trained_on: Mapping[str, Any] | None = None,
        multi_label: bool = False,
        thresholds: Sequence[float] | None = None,
        load_weights: bool = True,
    ) -> None:
        """`load_weights=False` skips the hub or file weights: a checkpoint will overwrite them anyway."""
        super().__init__()
        self.save_hyperparameters(ignore=["load_weights"])
        spec = backbone_spec(backbone)  # the schema's defaults for whatever the mapping leaves out
        image_size = preprocessing["input_size"][-1] if "input_size" in preprocessing else None
        self.backbone = create_backbone(
            spec.name,
            pretrained=spec.pretrained and load_weights,
            weights=spec.weights if load_weights else None,
            image_size=image_size,
            model_kwargs=spec.model_kwargs,
        )
        # Dropout on the pooled features, ours rather than timm's (which differs per model, and for a ViT also
        # drops tokens): the same layer then serves images and cached features.
        self.feature_dropout = nn.Dropout(spec.drop_rate)
        num_classes = len(class_names)
        # What forward_head(pre_logits=True) gives: more than num_features where timm's head has a layer of its own
        # (MobileNetV3's 1280-wide convolution after 960 features).
        width = getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features
        self.head = build_head(width, num_classes, **vars(spec.head))
        self.finetune = FinetuneConfig.from_mapping(finetune)
        # A plain list: the modules stay registered (and in the state dict) under `self.backbone` only.
        self.stages = backbone_stages(self.backbone, image_size)
        if self.finetune.freezes_part:
            require_stage_walk(self.backbone, self.stages, image_size, self.finetune.strategy)
        self.freeze_schedule = self.finetune.schedule(self.stages)
        self.frozen_stages = self.freeze_schedule.frozen_stages(0)
        self.train()  # Lightning trains in the modes it finds: put frozen BatchNorm in inference mode now
        self.objective = objective_for(num_classes, self.hparams)
        self.train_acc = self.objective.train_accuracy(num_classes)
        self.loss_guard = FiniteLossGuard()
        self.val_metrics = self.objective.metrics(num_classes, prefix="val/")
        self.test_metrics = self.objective.metrics(num_classes, prefix="test/")
        self.channels_last = False  # how this machine runs the model, not what it is: see set_channels_last
        self.mix = MixOptions(**dict(mixup or {}))  # Mixup / CutMix of each training batch (data/device/mix.py)
        # The training loss's class weights (models/loss.py); a buffer so it follows the model to its device.
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights is not None else None
        self.register_buffer("class_weight", weights, persistent=False)

    def set_channels_last(self, enabled: bool) -> ImageClassifier:
        """Convolution weights and input batches in NHWC (`channels_last` in conf/runtime/default.yaml), the
        layout tensor cores run fastest, for convolutional backbones; not saved with the checkpoint."""
        self.channels_last = enabled = enabled and is_convolutional(self.backbone)
        return self.to(memory_format=torch.channels_last if enabled else torch.contiguous_format)

    def set_temperature(self, temperature: float) -> None:
        """Calibrate by hand: every prediction from now on is softmax(z / T); kept in the hyperparameters."""
        self.objective.temperature = self.hparams.temperature = float(temperature)

    def fit_objective(self, probabilities: np.ndarray, labels: np.ndarray, calibrate: bool) -> str | None:
        """The objective's post-fit step on the validation split's predictions (a temperature, with `calibrate`,
        or each label's threshold), kept in the hyperparameters; returns a warning worth printing, if any."""
        warning = self.objective.fit(probabilities, labels, calibrate)
        self.hparams.update(self.objective.fitted())
        return warning

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        return self.objective.probabilities(logits)

    @property
    def class_names(self) -> list[str]:
        return list(self.hparams.class_names)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits for images (N, 3, H, W), or for their pooled backbone features (N, C) when those are cached."""
        if inputs.ndim == 2:
            return self.head(self.feature_dropout(inputs))
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        # Freezing applies to training only: in eval mode gradients may flow to the input (saliency maps).
        frozen = self.frozen_stages if self.training else 0
        if 0 < frozen < len(self.stages):  # part of the backbone frozen: walk its stages (checked at start-up)
            pooled = run_stages(self.stages, inputs, frozen)
        else:
            with torch.set_grad_enabled(torch.is_grad_enabled() and frozen == 0):
                pooled = self.backbone.forward_head(self.backbone.forward_features(inputs), pre_logits=True)
        logits = self.head(self.feature_dropout(pooled))
        # What was fitted after training (a temperature) applies to predictions, never to training's own loss.
        return logits if self.training else self.objective.calibrated(logits)

    @torch.no_grad()
    def pooled_features(self, images: torch.Tensor) -> torch.Tensor:
        """The backbone's pooled features (N, C) in inference mode: what the head sees, before its dropout."""
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.backbone.forward_head(self.backbone.forward_features(images), pre_logits=True)

    def set_frozen_stages(self, count: int) -> None:
        """Freeze the first `count` backbone stages (0: none), re-applying the BatchNorm modes."""
        self.frozen_stages = count
        if self.training:
            self.train()

    def train(self, mode: bool = True) -> ImageClassifier:
        """Whoever calls `train()` (users, Lightning hooks), frozen BatchNorm stays in inference mode."""
        super().train(mode)
        if mode and not self.finetune.train_bn:
            everything = self.frozen_stages >= len(self.stages)
            frozen = [self.backbone] if everything else [stage.module for stage in self.stages[: self.frozen_stages]]
            for part in frozen:
                for module in part.modules():
                    if isinstance(module, _BatchNorm):
                        module.eval()
        return self

    def trainable_parameters(self) -> int:
        """Parameters that receive gradients now: the head and the released stages."""
        released = [p for stage in self.stages[self.frozen_stages :] for _, p in stage.parameters]
        return sum(p.numel() for p in [*released, *self.head.parameters()])

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The objective's loss with the run's label smoothing, and its class weights in training only:
        validation and test losses stay comparable between runs."""
        weight = self.class_weight if self.training else None
        return self.objective.loss(logits, labels, weight, self.hparams.label_smoothing)

    @property
    def mixes_inputs(self) -> bool:
        return self.mix.enabled

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        inputs, labels, _ = batch
        targets, counted = labels, labels
        if self.mix.enabled:
            # Drawn from the step's seed (StepSeed seeds torch before each batch): the same on resuming.
            draw = draw_mix(np.random.default_rng(torch.initial_seed()), self.mix, *inputs.shape[-2:])
            inputs, targets = mix_batch(inputs, labels, draw, len(self.hparams.class_names))
            counted = labels if draw.lam >= 0.5 else labels.flip(0)  # train/acc: against the larger share
        logits = self(inputs)
        loss = self._loss(logits, targets)
        self.loss_guard.record(loss, self.current_epoch, batch_idx, self.global_step)
        self.train_acc.update(self.objective.accuracy_inputs(logits.detach()), counted)
        # Not on the progress bar: Lightning would turn it into a number after every step (a host sync on a
        # GPU); `IntervalProgressBar` shows the loss at the logging interval instead.
        self.log("train/loss", loss, on_step=True, on_epoch=True, batch_size=len(labels))
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, batch_size=len(labels))
        return loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.loss_guard.gate(optimizer, self.trainer.strategy)

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        for optimizer in self.trainer.optimizers:
            self.loss_guard.ungate(optimizer)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Stop with a diagnosis on a NaN or infinite loss, read at the logging interval and at the epoch's end.

        Decided jointly by all DDP ranks; a fused optimizer skipped every update with a non-finite gradient,
        and `on_save_checkpoint` checks too, so no checkpoint is written after the fault.
        """
        if at_logging_interval(self.trainer, batch_idx):
            self.loss_guard.raise_if_faulted(self.trainer.strategy)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self._trainer is not None and self.trainer.training:
            self.loss_guard.raise_if_faulted(self.trainer.strategy)

    def _evaluate(self, batch, metrics, split: str) -> torch.Tensor:
        """Update the split's metrics; the probabilities go back to Lightning for `PredictionCollector`."""
        inputs, labels, _ = batch
        logits = self(inputs)
        loss = self._loss(logits, labels)
        probabilities = self.objective.probabilities(logits)
        metrics.update(self.objective.scores(logits, probabilities), labels)
        self.log(f"{split}/loss", loss, on_epoch=True, prog_bar=True, sync_dist=True, batch_size=len(labels))
        return probabilities

    def validation_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, self.val_metrics, "val")

    def on_validation_epoch_end(self) -> None:
        # The sanity check sees a couple of batches, often of one class: their scores mean nothing.
        if not self.trainer.sanity_checking:
            self.log_dict(self.val_metrics.compute())
        self.val_metrics.reset()

    def test_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, self.test_metrics, "test")

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()

    def on_fit_start(self) -> None:
        if self.freeze_schedule.changes_during_training and not any(
            isinstance(callback, FreezeScheduleCallback) for callback in self.trainer.callbacks
        ):
            raise ConfigError(
                f"finetune.strategy={self.finetune.strategy!r} changes what trains during the run, but the Trainer "
                "has no FreezeScheduleCallback to apply it. Add inception_tl.training.callbacks."
                "FreezeScheduleCallback() to the callbacks (conf/callbacks/default.yaml has it)."
            )
        strategy = self.trainer.strategy
        ever_frozen = self.freeze_schedule.frozen_stages(0) > 0  # a later release implies a frozen start
        # Lightning keeps the DistributedDataParallel arguments in this private attribute.
        expects_unused = getattr(strategy, "_ddp_kwargs", {}).get("find_unused_parameters")
        if ever_frozen and isinstance(strategy, DDPStrategy) and not expects_unused:
            raise ConfigError(
                "Frozen stages run without gradients, so DDP must be told to expect unused parameters. Use "
                "trainer=ddp, or trainer.strategy=ddp_find_unused_parameters_true."
            )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("hyper_parameters", {}).get("finetune", self.hparams.finetune)
        if saved != self.hparams.finetune:
            raise ConfigError(
                f"The checkpoint was trained with finetune={dict(saved or {})}, but this run asks for "
                f"finetune={dict(self.hparams.finetune or {})}. Resume with the same finetune settings."
            )

    def build_optimizer(self) -> torch.optim.Optimizer:
        """The optimizer over discriminative parameter groups (the head's rate, lower ones down the backbone)."""
        config = self.hparams.optimizer
        if not config:
            raise ConfigError(
                "ImageClassifier was built without an optimizer config, so it can only predict. Pass "
                "optimizer={'opt': 'adamw', 'lr': 3e-4} (conf/optim/adamw.yaml) to train it."
            )
        no_weight_decay = getattr(self.backbone, "no_weight_decay", set)()
        param_groups = discriminative_param_groups(
            self.stages, self.head, config["lr"], config.get("weight_decay", 0.0), self.finetune, no_weight_decay
        )
        # torch's fused kernel (one launch for every parameter, and it can skip a step with a non-finite gradient
        # on the device: see FiniteLossGuard), unless gradients are clipped under mixed precision: a fused
        # optimizer unscales gradients inside its own step, after clipping would have had to happen.
        trainer = self._trainer
        clipping = trainer is not None and trainer.gradient_clip_val is not None and "mixed" in str(trainer.precision)
        fused = self.device.type in FUSED_DEVICES and not clipping
        return build_optimizer(param_groups, config, fused=fused)

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.build_optimizer()
        config: dict[str, Any] = {"optimizer": optimizer}
        if self.hparams.scheduler:
            total_steps = int(self.trainer.estimated_stepping_batches)
            steps_per_epoch = max(total_steps // max(self.trainer.max_epochs or 1, 1), 1)
            config["lr_scheduler"] = build_scheduler(optimizer, self.hparams.scheduler, total_steps, steps_per_epoch)
        return config
