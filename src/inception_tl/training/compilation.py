"""`compile=true`: torch.compile the backbone stage by stage and the head (`callbacks.compile_time` reports the cost).

Each stage is compiled in place (`nn.Module.compile`), so the state-dict keys, checkpoints and the freeze
schedule stay as they are: a frozen prefix runs stage by stage under `no_grad`, and compiling the whole
forward would trace a new graph for every number of frozen stages. It is also regional compilation: a
block's graph is compiled once and reused by every block of the same kind and input shape, so
Inception-ResNet-v2's 51 stages (10 + 20 + 9 of them repeated blocks) compile into 16 graphs
(tests/models/test_compilation.py).

Shapes are static (`dynamic=False`). Every stage runs through the same code (`nn.Module._call_impl`), so after
the second shape torch would switch to dynamic shapes for all of them: kernels that are slower, and on the
CPU (torch 2.14) an Inductor error in the backward pass ("Cannot convert expression to float"). The only
other shapes a run sees are its last, smaller validation batch and the test batches: one more graph each.
"""

from __future__ import annotations

from typing import Any


def compile_model(model: Any, **options: Any) -> None:
    """Compile each backbone stage and the head of an `ImageClassifier` in place (`torch.compile` options;
    static shapes unless `dynamic` says otherwise)."""
    options = {"dynamic": False, **options}
    for stage in model.stages:
        stage.module.compile(**options)
    model.head.compile(**options)
