"""When a training step may read values back from the device: Lightning's logging interval and the epoch's end.

Reading a device tensor as a Python number makes the host wait for the GPU; doing it only where Lightning
itself writes to the loggers keeps every other step free of such waits.
"""

from __future__ import annotations

import lightning as L


def at_logging_interval(trainer: L.Trainer, batch_idx: int) -> bool:
    """In `on_train_batch_end`: whether this step is one Lightning logs at (every `log_every_n_steps` optimizer
    steps, counted over the whole run) or the last of its epoch."""
    every = trainer.log_every_n_steps
    at_interval = every > 0 and trainer.global_step % every == 0
    return at_interval or batch_idx + 1 >= trainer.num_training_batches
