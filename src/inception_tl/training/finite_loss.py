"""The NaN/Inf loss guard, without a host synchronisation in every training step.

A NaN or infinite loss must stop the run with a diagnosis, no checkpoint may be written after the fault, and
the DDP processes must stop together. Checking `bool(torch.isfinite(loss))` after every step and agreeing on
it with a collective does all that, but on a GPU the conversion makes the host wait for the step to finish,
and at small batches those waits cost half the speed. Instead:

- each step records on the device whether its loss was finite (the first bad step's loss and position);
- a fused optimizer (torch's fused Adam, AdamW and SGD, the kernels GradScaler drives) skips its update when
  told `found_inf`: the guard sets it from the gradients' finiteness, which is the same on every DDP process
  after the all-reduce, so no weight takes a step with a NaN gradient;
- the record is read at the logging interval and before every checkpoint: one sync and one collective there.

An optimizer without a fused kernel cannot skip an update on the device: the loss is then checked before
every update, at a sync per step.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from lightning.pytorch.strategies import Strategy

from inception_tl.errors import TrainingError

ADVICE = (
    "Likely causes: a learning rate too high (try a smaller optim.lr), fp16 overflow under AMP (try "
    "trainer.precision=bf16-mixed or 32-true), or broken input images. The last checkpoint in the run's "
    "checkpoints/ folder predates the fault: resume from it with ckpt_path=... after changing the cause."
)


def skips_on_device(optimizer: torch.optim.Optimizer) -> bool:
    """Whether `optimizer` can be told to skip an update on the device (torch's fused kernels can)."""
    return bool(getattr(optimizer, "_step_supports_amp_scaling", False))


def nonfinite_gradients(parameters: Iterable[torch.Tensor]) -> torch.Tensor | None:
    """A device scalar, 1.0 if any gradient holds a NaN or an infinity, else 0.0 (None: no gradients).

    GradScaler's own check (one fused kernel per dtype), with an unscale factor of one.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return None
    found = torch.zeros((), device=grads[0].device)
    one = torch.ones((), device=grads[0].device)
    for dtype in {grad.dtype for grad in grads}:
        torch._amp_foreach_non_finite_check_and_unscale_([g for g in grads if g.dtype == dtype], found, one)
    return found


class FiniteLossGuard:
    """Records each training step's loss on the device; `raise_if_faulted` reads the record and stops the run.

    Example (what `ImageClassifier` does)::

        guard.record(loss, epoch, batch_idx, global_step)    # training_step
        guard.gate(optimizer)                                # on_before_optimizer_step
        guard.raise_if_faulted(trainer.strategy)             # at the logging interval, before a checkpoint
    """

    def __init__(self) -> None:
        self._places: list[tuple[int, int, int]] = []  # (epoch, batch, optimizer step) of each recorded step
        self._count: torch.Tensor | None = None  # steps recorded since the last check, on the device
        self._first_bad: torch.Tensor | None = None  # the first non-finite step's position (-1: none)
        self._bad_loss: torch.Tensor | None = None

    def _start(self, device: torch.device) -> None:
        self._places = []
        self._count = torch.zeros((), dtype=torch.long, device=device)
        self._first_bad = torch.full((), -1, dtype=torch.long, device=device)
        self._bad_loss = torch.zeros((), device=device)

    def record(self, loss: torch.Tensor, epoch: int, batch: int, step: int) -> None:
        """Note whether this step's loss is finite, on the device (no sync)."""
        loss = loss.detach().float()
        if self._first_bad is None or self._first_bad.device != loss.device:
            self._start(loss.device)
        first = ~torch.isfinite(loss) & (self._first_bad < 0)
        self._first_bad = torch.where(first, self._count, self._first_bad)
        self._bad_loss = torch.where(first, loss, self._bad_loss)
        self._count += 1
        self._places.append((epoch, batch, step))

    def gate(self, optimizer: torch.optim.Optimizer, strategy: Strategy) -> None:
        """Before an update: let a fused optimizer skip it if a gradient is not finite; otherwise check now."""
        if not skips_on_device(optimizer):
            self.raise_if_faulted(strategy)
            return
        if getattr(strategy.precision_plugin, "scaler", None) is not None:
            return  # fp16: GradScaler tells the fused optimizer itself, from the scaled gradients
        found = nonfinite_gradients(p for group in optimizer.param_groups for p in group["params"])
        if found is not None:
            optimizer.found_inf = found

    @staticmethod
    def ungate(optimizer: torch.optim.Optimizer) -> None:
        """After the update: the optimizer's next step must not see this one's verdict."""
        if hasattr(optimizer, "found_inf"):
            del optimizer.found_inf

    def raise_if_faulted(self, strategy: Strategy) -> None:
        """Read the record (one host sync) and decide with every DDP process (one collective): raise a
        TrainingError naming the first non-finite step, or start a new record."""
        local = self._first_bad is not None and bool(self._first_bad >= 0)
        if not strategy.reduce_boolean_decision(local, all=False):
            if self._count is not None:
                self._places.clear()
                self._count.zero_()
            return
        if not local:
            raise TrainingError(
                f"The training loss became NaN or infinite in another DDP process; training stopped. {ADVICE}"
            )
        epoch, batch, step = self._places[int(self._first_bad)]
        raise TrainingError(
            f"The training loss is {float(self._bad_loss)} at epoch {epoch}, batch {batch} (optimizer step {step}); "
            f"training stopped. {ADVICE}"
        )
