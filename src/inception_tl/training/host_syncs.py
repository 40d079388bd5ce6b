"""Counting the places where the host would wait for the device: the check behind "no host sync per step".

On a GPU, reading a tensor as a Python value (`item`, `bool`, `float`, `tolist`), an operation whose output
shape depends on the data (`nonzero`, `unique`, boolean masks), a blocking copy between host and device (a
Python number logged with `self.log`, `torch.tensor(x, device="cuda")`) and a collective (under DDP) each make
the host wait until the device has finished everything queued before it. The host then stops queueing work
ahead, and at small batches the GPU idles between steps.

`HostSyncCounter` sees these on any device, the CPU included, so a CPU test can count them: torch operations
through a dispatch mode, Python conversions and `LightningModule.log` of plain numbers through patches, and
the strategy's collectives by wrapping them. `torch.cuda.set_sync_debug_mode` only works on a GPU. On the CPU
every tensor is a host tensor, so the count also includes reads of tensors that stay on the host on a GPU
machine (an optimizer's step counters, say): it can only over-count.
"""

from __future__ import annotations

import functools
import numbers
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import lightning as L
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from inception_tl.data.worker.threads import ThreadedBatches

aten = torch.ops.aten
# Operations that read values back (`item`, `bool`, `float`, `int` all end in _local_scalar_dense) or whose
# output size depends on the values.
SYNCING_OPS = {
    aten._local_scalar_dense,
    aten.nonzero,
    aten._unique2,
    aten.unique_dim,
    aten.unique_consecutive,
    aten.masked_select,
    aten.equal,
}
COPY_OPS = {aten._to_copy, aten.copy_}
COLLECTIVES = ("reduce_boolean_decision", "reduce", "all_gather", "broadcast", "barrier")


def _devices(values: Any) -> set[str]:
    found = set()
    for value in values:
        if isinstance(value, torch.Tensor):
            found.add(value.device.type)
        elif isinstance(value, torch.device):
            found.add(value.type)
    return found


class HostSyncCounter(TorchDispatchMode):
    """Records each host synchronisation with the `label` in force (set it to mark a step); `paused` hides work
    that is host-side by design (the data loader's own iteration).

    Example::

        with counting_host_syncs(trainer.strategy) as counter:
            counter.label = "step 3"
            ...
        counter.events  # [("step 3", "aten._local_scalar_dense.default"), ...]
    """

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[Any, str]] = []
        self.label: Any = None
        self.paused = 0

    def note(self, what: str) -> None:
        if not self.paused:
            self.events.append((self.label, what))

    def counts(self) -> Counter:
        """Events per label."""
        return Counter(label for label, _ in self.events)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.overloadpacket in SYNCING_OPS:
            self.note(str(func))
        elif func.overloadpacket in COPY_OPS and not kwargs.get("non_blocking", False) and self._crosses(args, kwargs):
            self.note(f"{func} (blocking copy between host and device)")
        return func(*args, **kwargs)

    @staticmethod
    def _crosses(args: tuple, kwargs: dict) -> bool:
        return len(_devices([*args, *kwargs.values()])) > 1

    @contextmanager
    def pause(self) -> Iterator[None]:
        self.paused += 1
        try:
            yield
        finally:
            self.paused -= 1


def _counted(counter: HostSyncCounter, name: str, method: Callable) -> Callable:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        counter.note(name)
        return method(*args, **kwargs)

    return wrapper


@contextmanager
def counting_host_syncs(strategy: Any = None) -> Iterator[HostSyncCounter]:
    """Count host synchronisations in this thread (and the collectives of `strategy`) while the block runs.

    The data loader's iteration (sampler, worker results, in torch's loaders and the project's threaded one) is
    paused: it is host-side by design. What the device does with a batch (`on_after_batch_transfer`) is counted.
    """
    counter = HostSyncCounter()
    original_log = L.LightningModule.log

    def log(module: L.LightningModule, name: str, value: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(value, numbers.Number):  # becomes a blocking copy to the module's device
            counter.note(f"LightningModule.log({name!r}) of a Python number")
        original_log(module, name, value, *args, **kwargs)

    def paused(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with counter.pause():
                return method(*args, **kwargs)

        return wrapper

    loaders = (torch.utils.data.dataloader._BaseDataLoaderIter, ThreadedBatches)

    with ExitStack() as stack:
        patches = [
            (torch.Tensor, "tolist", _counted(counter, "Tensor.tolist", torch.Tensor.tolist)),
            (torch.Tensor, "numpy", _counted(counter, "Tensor.numpy", torch.Tensor.numpy)),
            (L.LightningModule, "log", log),
        ]
        patches += [(iterator, "__next__", paused(iterator.__next__)) for iterator in loaders]
        if strategy is not None:
            patches += [
                (strategy, name, _counted(counter, f"strategy.{name}", getattr(strategy, name))) for name in COLLECTIVES
            ]
        for owner, name, replacement in patches:
            own = vars(owner)  # a class's own attribute, or an instance's: restored as it was, or removed
            if name in own:
                stack.callback(setattr, owner, name, own[name])
            else:
                stack.callback(delattr, owner, name)
            setattr(owner, name, replacement)
        stack.enter_context(counter)
        yield counter
