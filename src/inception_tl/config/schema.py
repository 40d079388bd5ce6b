"""Typed schemas for the `backbone`, `data` and `finetune` config groups, checked by Hydra itself.

Each option's YAML extends its group's schema (`defaults: [/schema/<group>@_here_, _self_]`), so
`data.batch_size=abc` or a misspelt key such as `data.batchsize=8` stops at start-up with Hydra's
message naming the key and the expected type, before anything is read or built. Values that are
well-typed but wrong (`val_split=2`) are checked by the code that uses them; an option with a few choices is
an Enum (`data.options`), so a wrong choice (`data.cache=sometimes`) stops at start-up too.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, get_type_hints

from hydra.core.config_store import ConfigStore
from omegaconf import II, MISSING

from inception_tl.config.run_name import register_run_name
from inception_tl.data.options import (
    BadImagePolicy,
    BalanceMode,
    CacheMode,
    CropMode,
    DuplicatePolicy,
    MixOptions,
    TableColumns,
    VerifyMode,
    WorkerMode,
)
from inception_tl.data.worker.augment import Augment
from inception_tl.finetune.config import FinetuneConfig, FinetuneStrategy


class HeadKind(str, Enum):
    """`backbone.head.kind`."""

    linear = "linear"  # one Linear layer on the pooled features
    mlp = "mlp"  # Dense(hidden, relu) -> Dropout(dropout) -> Dense(classes), as in the Keras recipe


class SchedulerName(str, Enum):
    """`scheduler.name`, the option of the `scheduler` group."""

    cosine = "cosine"  # per step: linear warm-up, then cosine down
    plateau = "plateau"  # per epoch: multiply the rate by `factor` when `monitor` stalls


class MonitorMode(str, Enum):
    """Whether a monitored metric should fall (`min`: a loss) or rise (`max`: an accuracy)."""

    min = "min"
    max = "max"


@dataclass
class OptimSchema:
    """timm's `create_optimizer_v2` arguments: `opt` names timm's optimizer (adamw, sgd, lamb, ...); more of its
    keyword arguments join with a plus (`+optim.eps=1e-6`). No weight decay on norms and biases."""

    opt: str = "adamw"
    lr: float = 3.0e-4
    weight_decay: float = 0.01
    # SGD's momentum (timm's sgd is Nesterov's); null: timm's default (0.9).
    momentum: float | None = None


@dataclass
class CosineSchema:
    """Per step: linear warm-up from warmup_start_factor x lr over lr_warmup_epochs, then cosine to
    min_lr_ratio x lr."""

    name: SchedulerName = SchedulerName.cosine
    lr_warmup_epochs: float = 1.0
    warmup_start_factor: float = 0.01
    min_lr_ratio: float = 0.01


@dataclass
class PlateauSchema:
    """Per epoch: multiply the learning rate by `factor` when `monitor` has not improved for `patience` epochs."""

    name: SchedulerName = SchedulerName.plateau
    monitor: str = "val/loss"
    mode: MonitorMode = MonitorMode.min
    factor: float = 0.1
    patience: int = 2


class LrFindPhase(str, Enum):
    """`lr_find.phase`: what trains during the learning-rate range test."""

    warmup = "warmup"  # the backbone frozen: the head alone
    full = "full"  # everything, each group at its configured ratio to the head's rate


@dataclass
class LrFindSchema:
    """`lr_find` (lr_find.py): the head's rate grows exponentially from `start` to `stop` over at most `steps` steps
    (it stops early once the loss has clearly diverged); the other groups keep their ratios to it."""

    phase: LrFindPhase = LrFindPhase.warmup
    start: float = 1.0e-7
    stop: float = 1.0
    steps: int = 100


@dataclass
class LossSchema:
    """`loss`: the training loss's settings (validation and test losses stay unweighted and unsmoothed, so that
    runs stay comparable)."""

    # Each class's weight in the training loss: null (none); balanced (n / (classes x images of the class), as
    # scikit-learn's class_weight="balanced"); or a list in the order of the class names (multi-label: each
    # label's pos_weight). data.balance=weighted is the other lever: it samples classes equally often.
    class_weights: Any = None
    # Label smoothing of the targets (towards uniform; multi-label: towards 1/2).
    label_smoothing: float = 0.0


class ExportFormat(str, Enum):
    """`format` of export.py."""

    onnx = "onnx"  # model.onnx, for ONNX Runtime
    torchscript = "torchscript"  # model.torchscript.pt, for torch.jit.load (C++ too)
    # config.json + model.safetensors + README.md model card: timm.create_model("local-dir:DIR") and the hub
    timm = "timm"


class Quantize(str, Enum):
    """`quantize` of export.py (format=onnx)."""

    none = "none"  # fp32 only
    int8 = "int8"  # also model.int8.onnx: ONNX Runtime static quantization, calibrated on training images


@dataclass
class ExportSchema:
    """export.py's options (conf/export.yaml): the checkpoint, the format, where to write."""

    task_name: str = "export"
    # The checkpoint to export (best.ckpt of a run).
    ckpt_path: str = MISSING
    format: ExportFormat = ExportFormat.onnx
    # Where to write the model and model.json; null: the run directory.
    output_dir: str | None = None
    # format=onnx: int8 also writes model.int8.onnx, calibrated on `calibration_images` training images of the
    # checkpoint's data (which must be on this machine).
    quantize: Quantize = Quantize.none
    calibration_images: int = 300
    # format=timm: upload the folder to the Hugging Face hub as `repo_id` (user/name), with your own login
    # (`hf auth login` or HF_TOKEN); `private` unless set to false.
    push: bool = False
    repo_id: str | None = None
    private: bool = True
    # true: the exporters' own progress lines (torch.onnx's steps, onnxscript's passes, torch.jit's warnings).
    verbose: bool = False
    paths: Any = None


class Accelerator(str, Enum):
    """`serve.accelerator` of serve.py."""

    auto = "auto"  # the GPU when there is one, else the CPU
    cuda = "cuda"
    cpu = "cpu"


@dataclass
class ServeOptions:
    """The server (LitServe) and what it accepts."""

    # 127.0.0.1: this machine only; 0.0.0.0 to take requests from the network (put it behind your proxy).
    host: str = "127.0.0.1"
    port: int = 8000
    # Dynamic batching: up to max_batch_size requests in one forward pass, waiting at most batch_timeout seconds
    # for a batch to fill.
    max_batch_size: int = 16
    batch_timeout: float = 0.01
    # An upload larger than this is refused (413) before it is read whole.
    max_upload_mb: float = 10.0
    # An image of more pixels than this (width x height, in millions) is refused (413) before it is decoded:
    # a small file can hold a huge image (a decompression bomb).
    max_megapixels: float = 40.0
    # The classes (single-label) a prediction lists, most probable first.
    top_k: int = 5
    accelerator: Accelerator = Accelerator.auto
    # auto: fp16 mixed precision (16-mixed) on a CUDA GPU, 32-true elsewhere; or bf16-mixed, 32-true.
    precision: str = "auto"
    # Inference processes per device (each holds a copy of the model).
    workers_per_device: int = 1
    # Seconds a request may wait for its answer before a 504.
    timeout: float = 30.0
    # The model's name in every answer; null: the exported folder's or the run's name.
    name: str | None = None


@dataclass
class ServeSchema:
    """serve.py's options (conf/serve.yaml): the model to serve (a checkpoint, an exported folder or
    hf-hub:user/name) and the server's options; `channels_last` comes from the runtime group."""

    task_name: str = "serve"
    ckpt_path: str = MISSING
    serve: ServeOptions = field(default_factory=ServeOptions)
    channels_last: bool = True
    paths: Any = None


class CamMethod(str, Enum):
    """`cam.method`: how a class-activation map weighs the target layer's channels (pytorch-grad-cam)."""

    gradcam = "gradcam"  # Grad-CAM: each channel by its mean gradient
    gradcampp = "gradcampp"  # Grad-CAM++ (OmegaConf takes a choice by its name, and ++ is none): second-order
    layercam = "layercam"  # LayerCAM: each position by its own gradient (finer maps)
    eigencam = "eigencam"  # EigenCAM: the activations' first principal component, no gradient (class-agnostic)


@dataclass
class CamSchema:
    """Class-activation maps in the report (evaluation/cam.py): where the model looked."""

    enabled: bool = True
    method: CamMethod = CamMethod.gradcam
    # The backbone stage to compute the maps on; null: the last one with a map of at least 3 x 3 cells (a ViT:
    # its last token stage, laid out as its patch grid). A wrong name lists the valid ones.
    layer: str | None = None
    # How many images: the most confidently wrong, and the correctly classified ones of each class.
    mistakes: int = 16
    per_class: int = 4


# The seed of a run when none is given (train.py's and eval.py's), stated once.
SEED = 42


@dataclass
class CvSchema:
    """Cross-validation (`cv.folds=5`): k stratified folds of the training images, one run folder each
    (`fold_<k>/`), then the aggregate (`cv/`): every metric's mean, spread and range, the out-of-fold predictions."""

    # 0: no cross-validation.
    folds: int = 0
    # One fold only (a Hydra multirun spreads `cv.fold=range(5)` over a launcher's machines); null: every fold.
    fold: int | None = None


class Calibration(str, Enum):
    """`calibration`: what is fitted on the validation split after training (single-label models)."""

    temperature = "temperature"  # one number dividing the logits, minimising their NLL: calibrated probabilities
    none = "none"  # the raw probabilities


@dataclass
class TrainSchema:
    """train.py's top-level options (conf/train.yaml); the config groups' own options are their schemas'. The
    scripts that extend train.yaml add their node (`lr_find`, `bench`); a search's trials get `search`."""

    task_name: str = "train"
    seed: int = SEED
    # Resume from a checkpoint (for example outputs/train/<run>/checkpoints/last.ckpt), or `last`: the newest
    # last.ckpt of this task's earlier runs (written at every epoch end, and on Ctrl-C or SIGTERM).
    ckpt_path: str | None = None
    # Deprecated: loss.label_smoothing (this key still works, with a message saying so).
    label_smoothing: float | None = None
    # After training, fit a temperature on the validation split (one number dividing the logits, minimising their
    # negative log-likelihood): calibrated probabilities, the same predicted classes. The checkpoint carries it;
    # eval.py, predict.py and export.py apply it.
    calibration: Calibration = Calibration.temperature
    cv: CvSchema = field(default_factory=CvSchema)
    # torch.compile the backbone and head (opt-in: compiling takes minutes; the run reports how long).
    compile: bool = False
    # The report's figures (confusion matrix, curves, ROC, reliability, mistakes) as PNGs beside its tables. A
    # search's trials leave them out (seconds a run); eval.py on the best trial's checkpoint draws them.
    figures: bool = True
    # Class-activation maps of the evaluated split in the report (with figures).
    cam: CamSchema = field(default_factory=CamSchema)
    # Returned to Hydra sweepers (e.g. Optuna) as the value to optimise.
    optimized_metric: str = "val/acc"
    # NHWC convolutions (conf/runtime/default.yaml: how this machine runs the model).
    channels_last: bool = True
    backbone: Any = None
    data: Any = None
    trainer: Any = None
    logger: Any = None
    optim: Any = None
    scheduler: Any = None
    finetune: Any = None
    callbacks: Any = None
    paths: Any = None
    mixup: Any = None
    loss: Any = None
    lr_find: Any = None
    bench: Any = None
    search: Any = None


class EvalSplit(str, Enum):
    """`split` of eval.py."""

    test = "test"
    val = "val"


@dataclass
class EvalSchema:
    """eval.py's options (conf/eval.yaml): the checkpoint, the split, the report's figures; `data`, `trainer`,
    `logger`, `paths` and `channels_last` come from their groups."""

    task_name: str = "eval"
    # The checkpoint to evaluate (best.ckpt of a run).
    ckpt_path: str = MISSING
    split: EvalSplit = EvalSplit.test
    seed: int = SEED
    # The report's figures as PNGs beside its tables (false: the tables alone).
    figures: bool = True
    # Class-activation maps of the evaluated split in the report (with figures).
    cam: CamSchema = field(default_factory=CamSchema)
    channels_last: bool = True
    data: Any = None
    trainer: Any = None
    logger: Any = None
    paths: Any = None


@dataclass
class ShardsSchema:
    """shards.py's options (conf/shards.yaml): where the shards go and how many samples each holds; `data`,
    `backbone` and `paths` come from their groups."""

    task_name: str = "shards"
    # The folder the shards and shards.json are written to (replaced whole when it holds shards already).
    out: str = MISSING
    # Samples per shard: 1,000 images of 100 kB make 100 MB shards, a good size to stream.
    shard_size: int = 1000
    # Training images with a longer shorter side are stored reduced to it (a JPEG re-encoded at quality 95, others
    # as PNG): a stream decodes them at every epoch. 341 is what Inception's 299 px input is cut from
    # (floor(299 / 0.875)); null keeps every file's own bytes. Validation and test always keep theirs.
    train_shorter_side: int | None = None
    # Shuffles the training samples before they are cut into shards (and splits data without a val/ folder).
    seed: int = SEED
    data: Any = None
    backbone: Any = None
    paths: Any = None


@dataclass
class HeadSchema:
    # The new classifier on the pooled features.
    kind: HeadKind = HeadKind.linear
    # mlp: the width of its hidden layer, and the dropout after it.
    hidden: int = 500
    dropout: float = 0.3


@dataclass
class BackboneSchema:
    """timm's model `name`, ImageNet weights from the Hugging Face hub unless `weights` names a local file."""

    # timm's model name (conf/backbone/ holds the tested ones; any name timm knows works).
    name: str = MISSING
    # ImageNet weights from the Hugging Face hub (false: random weights, training from scratch).
    pretrained: bool = True
    # A local .safetensors or .pth state dict to load instead of the hub weights.
    weights: str | None = None
    # Dropout on the pooled features before the head.
    drop_rate: float = 0.0
    # More keyword arguments for timm.create_model (timm train.py's --model-kwargs), added on the command line with a
    # plus: +backbone.model_kwargs.drop_path_rate=0.1 (stochastic depth, for ViTs and ConvNeXts).
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    head: HeadSchema = field(default_factory=HeadSchema)


@dataclass
class ShapesSource:
    """data=shapes: the quickstart's generated images, shapes over noisy backgrounds (written once, offline)."""

    _target_: str = "inception_tl.data.sources.Shapes"
    # The classes: any of circle, square, triangle, star.
    classes: list[str] = field(default_factory=lambda: ["circle", "square", "triangle", "star"])
    # Many distinct images beat many epochs when learning from scratch (the quickstart).
    train_per_class: int = 500
    test_per_class: int = 50
    image_size: int = 96
    seed: int = 0


@dataclass
class ShapeTagsSource:
    """data=shape_tags: generated images holding 1 to 3 of the four shapes, labelled in a CSV (multi-label)."""

    _target_: str = "inception_tl.data.sources.ShapeTags"
    train_images: int = 600
    test_images: int = 120
    image_size: int = 96
    seed: int = 0
    # Each shape in its own quarter of the image (position tells it: learnable in a few epochs from scratch).
    fixed_quarters: bool = True
    # Each shape in its own colour too, over a grey background (colour alone tells it: learnt in a few dozen
    # steps from scratch, for tests and demos on the smallest budgets).
    colour_coded: bool = False


@dataclass
class Cifar10Source:
    """data=cifar10: torchvision's download (checksummed), written once as PNG folders."""

    _target_: str = "inception_tl.data.sources.Cifar10"
    # false: use cifar-10-python.tar.gz already placed in <root>/raw (offline).
    download: bool = True


@dataclass
class RemoteFileSchema:
    """A file to download, checked against its size and SHA-256 before it is used."""

    url: str = MISSING
    sha256: str = MISSING
    size: int = MISSING


@dataclass
class HorseHumanSource:
    """data=horse_human: the two archives of the Keras write-ups (downloaded once, checksummed, extracted)."""

    _target_: str = "inception_tl.data.sources.HorseHuman"
    train: RemoteFileSchema = field(
        default_factory=lambda: RemoteFileSchema(
            "https://storage.googleapis.com/download.tensorflow.org/data/horse-or-human.zip",
            "e2e6f70d3d549c5dd10a57165e55af253ee66ad750403f95c0fb76bb943633a9",
            149574867,
        )
    )
    test: RemoteFileSchema = field(
        default_factory=lambda: RemoteFileSchema(
            "https://storage.googleapis.com/download.tensorflow.org/data/validation-horse-or-human.zip",
            "ae5fff2f4f5554791f05358108e2e05d9801b191f1896ea101402f0e7f6c32c0",
            11480187,
        )
    )
    # Where the archives are downloaded to, or placed by hand without internet.
    download_dir: str = "${paths.data_dir}/downloads"


@dataclass
class HuggingFaceSource:
    """data=hf: a Hugging Face data set, written once under data.root as an ImageFolder tree (multi-label: one
    folder and a labels.csv)."""

    _target_: str = "inception_tl.data.sources.HuggingFaceDataset"
    # A hub name (user/name), a folder of parquet files (<split>-*.parquet), or a folder save_to_disk wrote.
    path: str | None = None
    # The data set's configuration name, and the hub revision (branch, tag or commit).
    name: str | None = None
    revision: str | None = None
    # The column of images, and the column of labels (ClassLabel, strings or integers; a list of them per image
    # with data.multi_label=true).
    image_column: str = "image"
    label_column: str = "label"
    # Our splits (train, val, test) and the data set's split each is read from; a split it lacks is left out.
    splits: dict[str, str] = field(default_factory=lambda: {"train": "train", "val": "validation", "test": "test"})
    # data.multi_label and data.label_separator (set those): a list-valued label column needs data.multi_label=true.
    multi_label: bool = II("..multi_label")
    label_separator: str = II("..label_separator")


@dataclass
class StreamSourceSchema:
    """data=stream: the training split streamed from tar shards and their shards.json (written by shards.py)."""

    _target_: str = "inception_tl.data.stream.StreamSource"
    # The folder or URL holding shards.json and the shards: a local path, http(s)://, s3://, gs:// (fsspec).
    url: str | None = None
    # How long an unreachable shard URL is retried before the run stops, naming it.
    retry_seconds: float = 30.0
    # Training batches read and shuffled together (in memory, as encoded bytes): more mixes consecutive samples of
    # a shard further, at window_batches x batch_size images per loader worker.
    window_batches: int = 8


@dataclass
class ImageFolderSource:
    """data=imagefolder: the user's own folder; nothing to fetch."""

    _target_: str = "inception_tl.data.sources.ImageFolder"


@dataclass
class SaveOnInterruptSchema:
    """Ctrl-C or SIGTERM: write a resumable last.ckpt (atomically) before exiting; resume with ckpt_path=last."""

    _target_: str = "inception_tl.training.callbacks.SaveOnInterrupt"
    dirpath: str = "${paths.output_dir}/checkpoints"


@dataclass
class FeatureCacheSchema:
    """finetune=linear_probe with data.augment.enabled=false: the frozen backbone's features are computed once and
    the head trains on them (epochs in milliseconds)."""

    _target_: str = "inception_tl.training.callbacks.FeatureCache"
    # false: run the backbone at every step.
    enabled: bool = True


@dataclass
class StepSeedSchema:
    """Seeds each training batch from (seed, epoch, batch, rank): a resumed run repeats the uninterrupted one."""

    _target_: str = "inception_tl.training.callbacks.StepSeed"
    seed: int = II("seed")


@dataclass
class EMASchema:
    """callbacks=ema: an exponential moving average of the weights that validation (hence best.ckpt's choice), the
    checkpoints, the test pass, eval.py, predict.py and export.py use. Its decay warms up over the first updates."""

    _target_: str = "inception_tl.training.callbacks.EMAWeights"
    decay: float = 0.999


# This project's callbacks, stored as /schema/callbacks/<name> (Lightning's own keep Lightning's defaults).
CALLBACKS = {
    "save_on_interrupt": SaveOnInterruptSchema,
    "feature_cache": FeatureCacheSchema,
    "step_seed": StepSeedSchema,
    "ema": EMASchema,
}


# Each data option's source schema, stored as /schema/source/<option>.
SOURCES = {
    "shapes": ShapesSource,
    "shape_tags": ShapeTagsSource,
    "cifar10": Cifar10Source,
    "horse_human": HorseHumanSource,
    "imagefolder": ImageFolderSource,
    "hf": HuggingFaceSource,
    "stream": StreamSourceSchema,
}


@dataclass
class DataSchema:
    """Every data option's defaults; `conf/data/*.yaml` state only their source, root and what differs."""

    _target_: str = "inception_tl.data.ImageDataModule"
    # Each dataset's own source (download, generation or a plain folder; null for data=csv): its keys differ per
    # dataset.
    source: Any = MISSING
    # The image folder: train/<class>/<images>, optional val/ and test/. Unset (data=imagefolder without it), the run
    # says so in one line.
    root: str | None = None
    # Labels from a CSV instead of class folders (data=csv): one row per image, its path (relative to `images`,
    # by default the CSV's folder, or absolute), its label, and optionally its split (train, val or test; an
    # empty cell trains). `columns` names the three columns.
    csv: str | None = None
    # Where the CSV's relative paths start (null: the CSV's own folder).
    images: str | None = None
    columns: TableColumns = field(default_factory=TableColumns)
    # Several labels per image (a CSV's label cell holds them, separated by `label_separator`): a sigmoid per label.
    multi_label: bool = False
    # What separates the labels in a multi-label cell.
    label_separator: str = ";"
    # null: the backbone's own input size (299).
    image_size: int | None = None
    # How each image becomes the square input, in training and evaluation (timm's crop modes): center (the shorter
    # side resized, the centre kept: a 2:1 image loses half), squash (stretched to a square) or border (padded to a
    # square with the mean colour). null: the backbone's own (center). The data report warns when center would cut.
    crop_mode: CropMode | None = None
    # Images per batch on each device.
    batch_size: int = 32
    # Loader workers: threads in the training process for images from the decoded-image cache (worker_mode
    # auto), processes when images are decoded at every access. One thread reads 2,300 to 3,500 cached 300 px
    # images a second into batches on a 2-core CPU, a process 860 to 1,370 (each batch crosses between them).
    num_workers: int = 8
    worker_mode: WorkerMode = WorkerMode.auto
    # Without a val/ folder, this stratified, seeded fraction of train/ validates.
    val_split: float = 0.2
    # Cross-validation (train.py cv.folds=K sets both): fold `fold` of `folds` stratified folds of the training
    # images (a val/ folder's too) validates, each duplicate-scan cluster kept in one fold; 0: val_split as usual.
    folds: int = 0
    fold: int = 0
    # The split's and the augmentation's seed: the run's `seed`.
    seed: int = II("seed")
    # The choices of each option below are described in src/inception_tl/data/options.py.
    # Before training every file is checked: header (fast) or full (decodes every image).
    verify: VerifyMode = VerifyMode.header
    # An unreadable image: error (stop and list them all) or skip (train without them).
    on_bad_image: BadImagePolicy = BadImagePolicy.error
    # none, or weighted: every class drawn equally often.
    balance: BalanceMode = BalanceMode.none
    # Images in more than one split (identical files, or resized/recompressed copies by perceptual hash): warn,
    # error, drop (the evaluation copy) or "off". near_duplicate_bits: the pHash distance of a near copy.
    on_duplicate: DuplicatePolicy = DuplicatePolicy.warn
    near_duplicate_bits: int = 8
    # Decode every image once into a memory-mapped file under cache_dir: auto (when it fits cache_max_gb and the
    # disk), always, or none (decode every image at every epoch).
    cache: CacheMode = CacheMode.auto
    cache_dir: str = "${paths.data_dir}/decoded"
    cache_max_gb: float = 64.0
    augment: Augment = field(default_factory=Augment)


@dataclass
class MilestoneSchema:
    epoch: int = MISSING
    unfreeze_from: str | None = None


def finetune_schema() -> type:
    """`FinetuneConfig` (the one statement of the finetune options and their defaults) as a schema Hydra can
    check: the same fields, types and defaults, with the milestones typed for OmegaConf."""
    hints = get_type_hints(FinetuneConfig)
    fields = []
    for item in dataclasses.fields(FinetuneConfig):
        if item.name == "milestones":
            fields.append((item.name, list[MilestoneSchema], field(default_factory=list)))
        elif item.name == "strategy":  # a choice Hydra checks at composition
            fields.append((item.name, FinetuneStrategy, field(default=FinetuneStrategy(item.default))))
        else:
            fields.append((item.name, hints[item.name], field(default=item.default)))
    return dataclasses.make_dataclass("FinetuneSchema", fields)


@functools.cache
def register_schemas() -> None:
    """Put the schemas where the group YAMLs look for them (`/schema/<group>`), and register the
    `${run_name:}` resolver the run folders are named with; once a process (they do not change), so calling it
    again costs nothing (the tests compose hundreds of configs)."""
    register_run_name()
    store = ConfigStore.instance()
    store.store(group="schema", name="backbone", node=BackboneSchema)
    store.store(group="schema", name="data", node=DataSchema)
    store.store(group="schema", name="finetune", node=finetune_schema())
    store.store(group="schema", name="mixup", node=MixOptions)
    store.store(group="schema", name="optim", node=OptimSchema)
    store.store(group="schema", name="lr_find", node=LrFindSchema)
    store.store(group="schema", name="loss", node=LossSchema)
    store.store(name="export_schema", node=ExportSchema)
    store.store(name="train_schema", node=TrainSchema)
    for name, source in SOURCES.items():
        store.store(group="schema/source", name=name, node=source)
    for name, callback in CALLBACKS.items():
        store.store(group="schema/callbacks", name=name, node=callback)
    store.store(name="eval_schema", node=EvalSchema)
    store.store(name="serve_schema", node=ServeSchema)
    store.store(name="shards_schema", node=ShardsSchema)
    store.store(group="schema/scheduler", name="cosine", node=CosineSchema)
    store.store(group="schema/scheduler", name="plateau", node=PlateauSchema)
