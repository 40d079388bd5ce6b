"""data=stream stopped mid-epoch by SIGTERM and resumed from its checkpoint, as `ckpt_path=last` resumes it, ends
with the uninterrupted run's weights: the loader goes on at the next unseen batch, with the same augmentations,
while two worker processes read ahead."""

import pytest
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

from inception_tl.data.stream import StreamDataModule, StreamSource
from inception_tl.models import ImageClassifier
from inception_tl.training.callbacks.interrupt import SaveOnInterrupt
from tests.data.stream.test_stream import write_folder_shards
from tests.finetune.test_resume import CountSteps, SigtermAfterBatch
from tests.helpers import LEVER_AUGMENT, data_options, fit

pytestmark = [
    pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`, callbacks used to create"),
    pytest.mark.slow,
]

EPOCHS = 2


def stream_datamodule(shards, root) -> StreamDataModule:
    options = data_options(backbone="resnet50", image_size=64, batch_size=4, num_workers=2, augment=LEVER_AUGMENT,
                           cache_dir=str(root / "decoded"))
    datamodule = StreamDataModule(source=StreamSource(str(shards), 5.0, 2), root=str(root), **options)
    datamodule.setup_data()
    return datamodule


def resnet(datamodule) -> ImageClassifier:
    """A ResNet-50 with one block a stage: what is checked is the data order, not the network."""
    torch.manual_seed(0)
    return ImageClassifier(
        backbone={"name": "resnet50", "pretrained": False, "model_kwargs": {"layers": [1, 1, 1, 1]}},
        class_names=datamodule.class_names,
        preprocessing=datamodule.preprocessing,
        optimizer={"opt": "adamw", "lr": 3e-3, "weight_decay": 0.01},
        finetune={"strategy": "full"},
    )


def test_a_streamed_run_stopped_mid_epoch_resumes_to_the_uninterrupted_runs_weights(tmp_path):
    write_folder_shards(tmp_path, shard_size=5)  # 24 training samples in 5 shards: 6 batches of 4 an epoch
    datamodule = stream_datamodule(tmp_path / "shards", tmp_path / "data")
    whole = resnet(datamodule)
    fit(whole, datamodule, EPOCHS)
    stopped = resnet(datamodule)
    stop = [SaveOnInterrupt(str(tmp_path / "stopped")), SigtermAfterBatch(epoch=1, batch=2)]
    with pytest.raises(SIGTERMException):
        fit(stopped, datamodule, EPOCHS, stop)
    saved = torch.load(tmp_path / "stopped" / "last.ckpt", map_location="cpu", weights_only=True)
    assert (saved["epoch"], saved["global_step"]) == (1, 9)
    resumed, counter = resnet(datamodule), CountSteps()
    fit(resumed, datamodule, EPOCHS, [counter], ckpt_path=str(tmp_path / "stopped" / "last.ckpt"))
    assert counter.steps == 6 * EPOCHS - 9
    for name, tensor in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], tensor, rtol=0, atol=1e-6, msg=name)
    assert not torch.equal(whole.state_dict()["head.weight"], resnet(datamodule).state_dict()["head.weight"])
