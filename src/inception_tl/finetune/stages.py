"""A timm backbone as an ordered list of named stages, grouped by timm's `group_matcher`.

The freeze schedule needs two views of the same network: the order in which its parts run (so a frozen prefix
can run without building an autograd graph) and timm's stage groups (the units that are released and given
their own learning rates). `backbone_stages` finds the parts by running the backbone once on a small input with
a hook on every module: the modules `forward_features` calls, in the order of their first call, each split into
its children while its parameters span more than one timm group. The pooling and whatever else
`forward_head(pre_logits=True)` does (ConvNeXt's and MobileNetV3's last layers) is the last stage, `pre_logits`.

That walk assumes `forward_features` does nothing but call those modules one after the other. Where a model
does more between two modules, an adapter below names it (ViT adds its position embedding, a method holding
parameters of the model itself); `check_stage_walk` runs the walk against `forward_features` on a real input,
and a model that fails it trains only with strategies that freeze all of the backbone or none of it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

import torch
from timm.models import group_parameters
from torch import nn

from inception_tl.errors import ConfigError


@dataclass(frozen=True)
class MethodStage:
    """A method of the model that its `forward_features` runs between two modules: it follows module `after`,
    uses the model's own `parameters` and runs the modules `calls` itself."""

    after: str
    name: str
    method: str
    parameters: tuple[str, ...]
    calls: tuple[str, ...] = ()


# By timm class name. timm's ViTs (`vit_*`, `deit_*` and the subclasses of VisionTransformer) add the class and
# register tokens and the position embedding in `_pos_embed`, which also runs `pos_drop`.
METHOD_STAGES: dict[str, MethodStage] = {
    "VisionTransformer": MethodStage(
        "patch_embed", "pos_embed", "_pos_embed", ("cls_token", "reg_token", "dist_token", "pos_embed"), ("pos_drop",)
    ),
}


class StageWalkError(ConfigError):
    """The model's `forward_features` is not the walk of its stages: part-frozen strategies cannot apply."""


class BoundStage(nn.Module):
    """A step of the backbone that is not one of its modules (a method, or `forward_head`), with the modules and
    parameters it uses. It is not registered in the backbone, so the state dict holds them once."""

    def __init__(
        self,
        function: Callable[[torch.Tensor], torch.Tensor],
        modules: Iterable[tuple[str, nn.Module]] = (),
        parameters: Iterable[tuple[str, nn.Parameter]] = (),
    ) -> None:
        super().__init__()
        self._function = [function]  # a list: the bound method's module must not become a child
        for name, module in modules:
            self.add_module(name.replace(".", "__"), module)
        for name, parameter in parameters:
            self.register_parameter(name.replace(".", "__"), parameter)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._function[0](inputs)


@dataclass(frozen=True)
class Stage:
    """One step of the backbone in forward order, its parameters (named as in the backbone) and the timm stage
    group they belong to (None: it has none)."""

    name: str
    module: nn.Module
    group: int | None
    parameters: tuple[tuple[str, nn.Parameter], ...] = ()
    # Why the backbone cannot be walked stage by stage (then each stage is a timm group, not a step to run).
    unwalkable: str | None = None


def _called_modules(backbone: nn.Module, run: Callable[[], object]) -> dict[str, int]:
    """The names of the modules `run` calls, with the position of their first call."""
    order: dict[str, int] = {}

    def record(name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, _inputs: object) -> None:  # returns None: the inputs stay as they are
            order.setdefault(name, len(order))

        return hook

    handles = [module.register_forward_pre_hook(record(name)) for name, module in backbone.named_modules() if name]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return order


def _split(
    name: str, module: nn.Module, called: dict[str, int], group_of: dict[str, int], adapted: Collection[str] = ()
) -> list[tuple[str, nn.Module]]:
    """`module` as a stage, or its called children in call order while its parameters span several groups
    (parameters held by `module` itself must be `adapted`: a method stage uses them)."""
    prefix = f"{name}." if name else ""
    groups = {group_of[f"{prefix}{parameter}"] for parameter, _ in module.named_parameters()}
    if name and len(groups) <= 1:
        return [(name, module)]
    own = [parameter for parameter, _ in module.named_parameters(recurse=False) if parameter not in adapted]
    if own:
        raise StageWalkError(
            f"{name or 'the model'} holds parameters of its own ({own}) used between its parts, and no adapter "
            f"in finetune/stages.py says where."
        )
    children = sorted(
        ((f"{prefix}{child}", module) for child, module in module.named_children() if f"{prefix}{child}" in called),
        key=lambda item: called[item[0]],
    )
    return [stage for child, submodule in children for stage in _split(child, submodule, called, group_of)]


def _walk_input(backbone: nn.Module, image_size: int | None) -> torch.Tensor:
    size = image_size or backbone.pretrained_cfg.get("input_size", (3, 224, 224))[-1]
    parameter = next(backbone.parameters())
    return torch.zeros(1, 3, size, size, device=parameter.device, dtype=parameter.dtype)


def backbone_stages(backbone: nn.Module, image_size: int | None = None) -> list[Stage]:
    """The steps `forward_features` and `forward_head(pre_logits=True)` run, in order, each tagged with its timm
    group index. `image_size` (default: the model's own) must be one the model accepts."""
    group_of = _groups(backbone)
    images = _walk_input(backbone, image_size)
    outputs: list[torch.Tensor] = []
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            in_features = _called_modules(backbone, lambda: outputs.append(backbone.forward_features(images)))
            in_head = _called_modules(backbone, lambda: backbone.forward_head(outputs[0], pre_logits=True))
    except RuntimeError as error:
        raise ConfigError(
            f"{type(backbone).__name__} does not accept {images.shape[-1]} px images: {error}\n"
            f"Choose a larger data.image_size (the model's own is "
            f"{backbone.pretrained_cfg.get('input_size', ('?',))[-1]})."
        ) from error
    finally:
        backbone.train(was_training)
    adapter = next((METHOD_STAGES[c.__name__] for c in type(backbone).__mro__ if c.__name__ in METHOD_STAGES), None)
    try:
        ordered = _split("", backbone, in_features, group_of, adapter.parameters if adapter else ())
    except StageWalkError as error:
        return _group_stages(backbone, group_of, str(error))
    parts: list[tuple[str, nn.Module]] = []
    for name, module in ordered:
        if adapter is not None and name in adapter.calls:
            continue
        parts.append((name, module))
        if adapter is not None and name == adapter.after:
            present = [(p, getattr(backbone, p)) for p in adapter.parameters if getattr(backbone, p, None) is not None]
            parts.append((adapter.name, BoundStage(getattr(backbone, adapter.method), parameters=present)))

    covered = {id(p) for _, module in parts for p in module.parameters()}
    head_modules = [(name, module) for name, module in backbone.named_modules() if name in in_head]
    head_parameters = [
        (name, p)
        for name, p in backbone.named_parameters()
        if id(p) not in covered and any(name.startswith(f"{module}.") for module, _ in head_modules)
    ]
    pre_logits = BoundStage(
        functools.partial(backbone.forward_head, pre_logits=True),  # not a lambda: deepcopy (EMA) rebinds it
        modules=[(name, module) for name, module in head_modules if "." not in name],
    )
    stages = []
    for name, module in parts:
        if isinstance(module, BoundStage):
            parameters = tuple((p, parameter) for p, parameter in module.named_parameters())
            parameters = tuple((p.replace("__", "."), parameter) for p, parameter in parameters)
        else:
            parameters = tuple((f"{name}.{p}", parameter) for p, parameter in module.named_parameters())
        stages.append(_stage(name, module, parameters, group_of))
    stages.append(_stage("pre_logits", pre_logits, tuple(head_parameters), group_of, merge=True))
    return stages


def _groups(backbone: nn.Module) -> dict[str, int]:
    """timm's group index of every parameter name; one group for a model without a `group_matcher`."""
    if not hasattr(backbone, "group_matcher"):
        return {name: 0 for name, _ in backbone.named_parameters()}
    groups = group_parameters(backbone, backbone.group_matcher())
    return {parameter: group for group, parameters in groups.items() for parameter in parameters}


def _group_stages(backbone: nn.Module, group_of: dict[str, int], reason: str) -> list[Stage]:
    """timm's groups as stages when the model cannot be walked: they still carry the discriminative learning rates,
    and a schedule that freezes all of the backbone or none of it still works."""

    def unwalkable(_: torch.Tensor) -> torch.Tensor:
        raise StageWalkError(reason)

    members: dict[int, list[tuple[str, nn.Parameter]]] = {}
    for name, parameter in backbone.named_parameters():
        members.setdefault(group_of[name], []).append((name, parameter))
    stages = []
    for group, parameters in sorted(members.items()):
        name = parameters[0][0].rsplit(".", 1)[0]  # the module of the group's first parameter
        stages.append(Stage(name, BoundStage(unwalkable, parameters=parameters), group, tuple(parameters), reason))
    return stages


def _stage(
    name: str,
    module: nn.Module,
    parameters: tuple[tuple[str, nn.Parameter], ...],
    group_of: dict[str, int],
    merge: bool = False,
) -> Stage:
    """A stage in one timm group; `merge`: the top's groups (forward_head's layers) count as the highest."""
    groups = {group_of[p] for p, _ in parameters}
    if len(groups) > 1 and not merge:
        raise StageWalkError(f"Stage {name} spans timm groups {sorted(groups)}; split it further.")
    return Stage(name, module, max(groups) if groups else None, parameters)


def run_stages(stages: list[Stage], images: torch.Tensor, frozen: int = 0) -> torch.Tensor:
    """Run the stages in order; the first `frozen` run without autograd, so they cost no graph or memory."""
    features = images
    with torch.no_grad():
        for stage in stages[:frozen]:
            features = stage.module(features)
    for stage in stages[frozen:]:
        features = stage.module(features)
    return features


def check_stage_walk(backbone: nn.Module, stages: list[Stage], image_size: int | None = None) -> None:
    """Raise StageWalkError unless walking `stages` gives exactly what the backbone's own forward does, on a small
    random input in inference mode."""
    reasons = {stage.unwalkable for stage in stages if stage.unwalkable}
    if reasons:
        raise StageWalkError(reasons.pop())
    generator = torch.Generator().manual_seed(0)
    reference = _walk_input(backbone, image_size)
    images = torch.rand(reference.shape, generator=generator).to(reference)
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            expected = backbone.forward_head(backbone.forward_features(images), pre_logits=True)
            walked = run_stages(stages, images)
    except Exception as error:  # a stage fed what the model never gives it: any error of any layer
        raise StageWalkError(
            f"Running the {len(stages)} stages of {type(backbone).__name__} one after the other fails ({error}): "
            f"its forward_features does more between them than calling them."
        ) from error
    finally:
        backbone.train(was_training)
    if walked.shape != expected.shape or not torch.equal(walked, expected):
        difference = (walked - expected).abs().max().item() if walked.shape == expected.shape else "shape"
        raise StageWalkError(
            f"Running the {len(stages)} stages of {type(backbone).__name__} one after the other does not give "
            f"its forward_features (difference: {difference}): it does more between them than calling them."
        )


def require_stage_walk(backbone: nn.Module, stages: list[Stage], image_size: int | None, strategy: str) -> None:
    """`check_stage_walk` for a schedule that freezes part of the backbone, with what still works if it fails."""
    try:
        check_stage_walk(backbone, stages, image_size)
    except StageWalkError as error:
        raise StageWalkError(
            f"{error}\nfinetune.strategy={strategy} freezes part of the backbone, which needs that walk. What "
            f"freezes all of it or none still works: finetune=full, finetune=linear_probe, or finetune=warmup "
            f"without finetune.unfreeze_from."
        ) from error
