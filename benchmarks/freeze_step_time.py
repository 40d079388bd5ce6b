"""Time one training step (forward, backward, optimizer) with the backbone frozen, partly frozen and free.

    python benchmarks/freeze_step_time.py                      # inception_v3, 299 px, batch 8, CPU
    python benchmarks/freeze_step_time.py --backbone inception_resnet_v2 --device cuda --precision 16-mixed

Frozen stages run under `no_grad`, so a warm-up step skips the backbone's backward pass and keeps no
activations for it. Prints ms/step, the ratio to a full step, the activation memory autograd keeps for
the backward pass (any device) and, on CUDA, the peak memory.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from inception_tl.data.preprocessing import resolve_preprocessing
from inception_tl.models import ImageClassifier

PHASES = {"warm-up (head only)": "all", "from the top block up": "top", "full": "none"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--backbone", default="inception_v3", help="any timm model name (conf/backbone/ holds the tested ones)"
    )
    parser.add_argument("--image-size", type=int, default=None, help="default: the model's own (299 for Inception)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per phase, after 2 untimed ones")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="32-true", choices=["32-true", "16-mixed", "bf16-mixed"])
    return parser.parse_args()


def frozen_count(model: ImageClassifier, phase: str) -> int:
    if phase == "all":
        return len(model.stages)
    if phase == "top":  # the last timm stage group and above train, as finetune.unfreeze_from=<top block>
        top_group = max(stage.group for stage in model.stages if stage.group is not None)
        return next(index for index, stage in enumerate(model.stages) if stage.group == top_group)
    return 0


def saved_for_backward(model: ImageClassifier, images: torch.Tensor) -> float:
    """MiB of tensors autograd keeps from one forward pass for the backward pass."""
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        seen[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(images)
    return sum(seen.values()) / 2**20


def time_phase(model: ImageClassifier, optimizer, images, labels, args) -> tuple[float, float | None]:
    dtype = {"16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}.get(args.precision)
    scaler = torch.amp.GradScaler(enabled=args.precision == "16-mixed" and args.device.startswith("cuda"))
    cuda = args.device.startswith("cuda")
    durations = []
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for step in range(args.steps + 2):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(images.device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(model(images), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        if step >= 2:
            durations.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    return sorted(durations)[len(durations) // 2], peak


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    model = ImageClassifier(
        backbone={"name": args.backbone, "pretrained": False},
        class_names=[str(index) for index in range(10)],
        preprocessing=resolve_preprocessing(args.backbone, args.image_size),
        optimizer={"opt": "adamw", "lr": 1e-4, "weight_decay": 0.01},
    ).to(args.device)
    optimizer = model.configure_optimizers()["optimizer"]
    size = model.hparams.preprocessing["input_size"][-1]
    images = torch.randn(args.batch_size, 3, size, size, device=args.device)
    labels = torch.randint(0, 10, (args.batch_size,), device=args.device)
    threads = torch.get_num_threads()
    print(
        f"{args.backbone}, {size} px, batch {args.batch_size}, {args.device} ({threads} threads), "
        f"{args.precision}; median of {args.steps} steps"
    )
    results = {}
    for label, phase in PHASES.items():
        model.set_frozen_stages(frozen_count(model, phase))
        model.train()
        results[label] = (*time_phase(model, optimizer, images, labels, args), saved_for_backward(model, images))
    full, _, full_saved = results["full"]
    for label, (seconds, peak, saved) in results.items():
        memory = f", peak {peak:.2f} GiB" if peak is not None else ""
        print(
            f"  {label:<24} {seconds * 1000:8.1f} ms/step  {seconds / full:5.2f} x full   "
            f"activations kept {saved:7.1f} MiB  {saved / full_saved:5.2f} x full{memory}"
        )


if __name__ == "__main__":
    main()
