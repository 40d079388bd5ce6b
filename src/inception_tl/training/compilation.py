"""`compile=true`: torch.compile the backbone stage by stage and the head (`callbacks.compile_time` reports the cost).

Each stage is compiled in place (`nn.Module.compile`), so the state-dict keys, checkpoints and the
freeze schedule stay as they are: a frozen prefix runs stage by stage under `no_grad`, and compiling
the whole forward would trace a new graph for every number of frozen stages. Compiling takes minutes
for these networks (inception_v3 did not finish within 90 s on an H200), hence opt-in.
"""

from __future__ import annotations

from typing import Any


def compile_model(model: Any, **options: Any) -> None:
    """Compile each backbone stage and the head of an `ImageClassifier` in place (`torch.compile` options)."""
    for stage in model.stages:
        stage.module.compile(**options)
    model.head.compile(**options)
