"""compile=true: every stage and the head compiled in place (checkpoints unchanged), and the compile time reported."""

import logging

from inception_tl.training.callbacks import CompileTimeReport
from inception_tl.training.compilation import compile_model
from tests.helpers import classifier, fit, make_datamodule, write_image_tree


def test_every_stage_and_the_head_are_compiled_in_place_and_the_state_dict_keys_stay():
    model = classifier({"strategy": "full"})
    keys = list(model.state_dict())
    compile_model(model, backend="eager")  # compiled lazily, at the first call (tracing it costs 10 s here)
    assert all(stage.module._compiled_call_impl is not None for stage in model.stages)
    assert model.head._compiled_call_impl is not None
    assert list(model.state_dict()) == keys  # checkpoints stay loadable by an uncompiled model


def test_the_first_steps_duration_is_reported_against_the_next_ones(tmp_path, caplog):
    root = write_image_tree(tmp_path / "images", {"train": {"a": 8, "b": 8}})  # 3 training batches of 4
    with caplog.at_level(logging.INFO):
        fit(classifier({"strategy": "full"}), make_datamodule(root, val_split=0.25), 1, [CompileTimeReport(2)])
    (message,) = [record.message for record in caplog.records if "torch.compile" in record.message]
    assert "the first training step took" in message
    assert "the next ones" in message


def test_repeated_blocks_are_compiled_once_and_reused():
    """Regional compilation: Inception-ResNet-v2's 51 blocks, 39 of them repeats of three, give one graph per kind
    of block and input shape, not one per stage (traced by dynamo; `eager` skips Inductor's codegen)."""
    import torch
    from torch._dynamo.utils import counters

    model = classifier({"strategy": "full"}, backbone="inception_resnet_v2")
    kinds = set()  # a block's type and its layers' settings, and the shape it is called with
    for stage in model.stages:
        stage.module.register_forward_pre_hook(lambda module, args: kinds.add((repr(module), args[0].shape)))
    compile_model(model, backend="eager")
    torch._dynamo.reset()
    counters.clear()
    model(torch.randn(2, 3, 75, 75)).sum().backward()
    graphs = counters["stats"]["unique_graphs"]
    assert len(model.stages) == 52  # the blocks and `pre_logits` (the pooling)
    assert graphs <= len(kinds) + 1  # + the head
    assert graphs < len(model.stages) / 2
