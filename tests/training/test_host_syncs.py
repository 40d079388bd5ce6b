"""No host synchronisation inside a training step, nor between steps except at Lightning's logging interval and
at the epoch's end: on a GPU each one makes the host wait for the device, and at small batches it idles."""

import lightning as L

from inception_tl.config.instantiate import instantiate
from inception_tl.models.build import build_model
from inception_tl.training.host_syncs import counting_host_syncs
from inception_tl.training.trainer import build_trainer
from tests.helpers import compose_config, write_image_tree

EVERY = 4  # trainer.log_every_n_steps
STEPS_PER_EPOCH = 8


class StepMarker(L.Callback):
    """Labels the counter's events: ("step", n) inside training step n, ("after", n) from its end to the next."""

    def __init__(self, counter) -> None:
        self.counter, self.step = counter, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.step += 1
        self.counter.label = ("step", self.step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.counter.label = ("after", self.step)


def test_training_steps_read_nothing_back_from_the_device_between_logging_intervals(tmp_path):
    root = write_image_tree(tmp_path / "images", {"train": {"a": 20, "b": 20}})  # 32 to train, 8 to validate
    overrides = ["data=imagefolder", f"data.root={root}", "data.image_size=75", "data.batch_size=4"]
    # One worker (a thread, the images being cached): the per-image work happens there, as on a GPU machine.
    overrides += ["data.num_workers=1", f"paths.data_dir={tmp_path / 'cache'}", "backbone.pretrained=false"]
    overrides += ["trainer=cpu", "trainer.max_epochs=2", f"trainer.log_every_n_steps={EVERY}", "figures=false"]
    overrides += ["finetune.warmup_epochs=1"]  # both phases: the backbone frozen, then released
    overrides += ["callbacks=ema"]  # EMA weights are updated at every step: on the device too
    # Every other lever for small data too: colour, policy and erasing on the device, Mixup/CutMix (soft targets
    # built without F.one_hot's range check, which read the labels back twice a step), class weights.
    overrides += ["data.augment.brightness=0.3", "data.augment.hue=0.05", "data.augment.greyscale=0.1"]
    overrides += ["data.augment.policy=trivial", "data.augment.erase=0.25", "loss.class_weights=balanced"]
    overrides += ["mixup.mixup_alpha=0.2", "mixup.cutmix_alpha=1.0"]
    cfg = compose_config(overrides, tmp_path / "run")
    datamodule = instantiate(cfg.data, backbone=cfg.backbone.name)
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = build_model(cfg, datamodule)
    trainer = build_trainer(cfg)
    with counting_host_syncs(trainer.strategy) as counter:
        trainer.callbacks.insert(0, StepMarker(counter))  # first: its end-of-step mark precedes the others'
        transfer = datamodule.on_after_batch_transfer

        def labelled_transfer(batch, dataloader_idx):
            label, counter.label = counter.label, "device data path"
            try:
                return transfer(batch, dataloader_idx)
            finally:
                counter.label = label

        datamodule.on_after_batch_transfer = labelled_transfer
        trainer.fit(model, datamodule=datamodule)

    assert trainer.global_step == 2 * STEPS_PER_EPOCH
    counts = counter.counts()
    where = {label for label in counts if label is not None}
    assert "device data path" not in where, counter.events
    assert not [label for label in where if label[0] == "step"], counter.events
    allowed = {("after", n) for n in range(1, 2 * STEPS_PER_EPOCH + 1) if n % EVERY == 0}
    assert where <= allowed, sorted(where - allowed)
    # The counter sees what happens at the interval: the progress bar's loss and the NaN guard's verdict.
    assert counts[("after", EVERY)] >= 2
