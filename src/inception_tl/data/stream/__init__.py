"""data=stream: the training split read from WebDataset-style tar shards, sharded over DDP ranks and loader workers
(`plan.py`), with the shard index the writer (`writer.py`, `shards.py`) puts beside them."""

from inception_tl.data.stream.datamodule import StreamDataModule, StreamSource

__all__ = ["StreamDataModule", "StreamSource"]
