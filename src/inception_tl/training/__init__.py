"""Training plumbing: the Trainer, checkpoints (written atomically, read safely), loggers, compilation, the
optimizer, and every callback (`training.callbacks`)."""
