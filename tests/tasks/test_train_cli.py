"""The real CLI, end to end: the quickstart recipe on two of its classes (a run the suite can afford: the full
quickstart takes minutes, its figures are in the README), stopped by SIGTERM mid-epoch and resumed with
`ckpt_path=last`; then eval, predict and export on the resumed run's checkpoint. Each runs the script's own
`@hydra.main` in this process (tests.helpers.run_entry_point), the SIGTERM a real signal to it."""

import csv
import json
import shutil
import warnings

import numpy as np
import pytest
import torch

from tests.helpers import run_entry_point, run_script

pytestmark = pytest.mark.slow


CLASSES = ["circle", "star"]
TEST_IMAGES = 2 * 50
# 180 training images in batches of 16 (11 steps an epoch), 4 epochs at lr 1e-3: about 700 images seen.
# From scratch, more and gentler steps (BatchNorm's running statistics settle) beat more images: measured on
# 2 cores (AMD EPYC, AVX2), one thread, test accuracy 0.76, 0.75, 0.76, 0.77 with seeds 42, 1, 2, 3 (the
# quickstart's batch 32 and lr 3e-3 gave 0.55 to 0.84); chance is 0.5.
SMALL_QUICKSTART = [
    "experiment=quickstart",
    "data.source.classes=[circle,star]",
    "data.source.train_per_class=100",
    "data.batch_size=16",
    "optim.lr=1e-3",
    "trainer.max_epochs=4",
    "cam.mistakes=4",  # both map figures, of fewer images (24 maps took 3.2 s)
    "cam.per_class=2",
]


@pytest.fixture(scope="module")
def interrupted_and_resumed(shared_tmp):
    """The quickstart stopped by SIGTERM after batch 2 of epoch 1, then `ckpt_path=last` in a new run folder."""
    root = shared_tmp("quickstart")
    common = [*SMALL_QUICKSTART, f"paths.data_dir={root / 'data'}"]
    sigterm = ["+callbacks.sigterm._target_=tests.signals.SigtermAt", "+callbacks.sigterm.epoch=1"]
    sigterm += ["+callbacks.sigterm.batch=2", f"hydra.run.dir={root / 'runs' / 'interrupted'}"]
    interrupted = run_entry_point("train.py", *common, *sigterm)  # a real SIGTERM to this process
    resumed = run_script("train.py", *common, f"hydra.run.dir={root / 'runs' / 'resumed'}", "ckpt_path=last")
    return root / "runs", interrupted, resumed


@pytest.fixture(scope="module")
def quickstart_run(interrupted_and_resumed):
    runs, _, resumed = interrupted_and_resumed
    return runs / "resumed", runs.parent, resumed


def test_sigterm_mid_epoch_saves_a_checkpoint_that_ckpt_path_last_resumes_to_the_end(interrupted_and_resumed):
    runs, interrupted, resumed = interrupted_and_resumed
    assert interrupted.returncode == 143, interrupted.stdout[-2000:] + interrupted.stderr[-2000:]
    saved = runs / "interrupted" / "checkpoints" / "last.ckpt"
    assert "Resume with the same command plus ckpt_path=last" in interrupted.stdout + interrupted.stderr
    state = torch.load(saved, map_location="cpu", weights_only=True)
    assert (state["epoch"], state["global_step"]) == (1, 14)  # mid-epoch: 11 steps of epoch 0, 3 of epoch 1
    assert not saved.with_suffix(".ckpt.part").exists()

    assert f"Resuming from {saved}" in resumed.stdout.replace("\n", "")
    final = torch.load(runs / "resumed" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert (final["epoch"], final["global_step"]) == (3, 44)  # finished all 4 epochs


def test_the_console_says_what_will_run_in_a_few_lines_before_the_first_epoch(interrupted_and_resumed):
    _, interrupted, _ = interrupted_and_resumed
    printed = interrupted.stdout + interrupted.stderr
    before = printed[: printed.index("Epoch 0: the whole network trains")].splitlines()
    assert len(before) <= 40, "\n".join(before)
    for said in (
        "Training on 2 classes (single-label): 180 train / 20 val / 100 test images",
        "Model: inception_v3",
        "Schedule: full",
        "Levers: none; after training: temperature",
        "Run directory:",
        "config.yaml",
    ):
        assert said in printed, said
    # The resolved config is in config.yaml, Lightning's tips and model summary are gone, and no warning is printed.
    for unsaid in ("optimized_metric:", "Tip:", "GPU available", "Trainable params", "Seed set", "Warning"):
        assert unsaid not in printed, unsaid


def test_quickstart_learns_and_writes_its_outputs(quickstart_run):
    run_dir, _, result = quickstart_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["class_names"] == CLASSES
    # Held-out images of two balanced classes: chance is 0.5; measured 0.75 to 0.77 (see SMALL_QUICKSTART).
    assert metrics["test/acc"] >= 0.65, metrics
    for key in ("val/acc", "val/f1", "val/auroc", "test/precision", "test/recall", "test/f1", "test/auroc"):
        assert 0.0 <= metrics[key] <= 1.0
    matrix = metrics["test/confusion_matrix"]
    assert sum(map(sum, matrix)) == TEST_IMAGES
    assert sum(matrix[i][i] for i in range(2)) == round(metrics["test/acc"] * TEST_IMAGES)
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert "backbone:" in (run_dir / "config.yaml").read_text()
    assert str(run_dir) in result.stdout
    assert "test/acc" in result.stdout
    # The test metrics' bootstrap intervals, in metrics.json and on the console.
    low, high = metrics["intervals"]["test/acc"]
    assert low <= metrics["test/acc"] <= high
    assert f"{metrics['test/acc']:.4f} ({low:.4f}-{high:.4f})" in result.stdout
    # The class-activation maps of the report, and the line saying what they cost.
    assert (run_dir / "report" / "cam_mistakes.png").is_file()
    assert (run_dir / "report" / "cam_per_class.png").is_file()
    assert "Class-activation maps (gradcam, stage Mixed_6e, 3 x 3):" in result.stdout


def test_the_checkpoint_carries_class_names_and_preprocessing(quickstart_run):
    run_dir, _, _ = quickstart_run
    checkpoint = torch.load(run_dir / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    hparams = checkpoint["hyper_parameters"]
    assert hparams["class_names"] == CLASSES
    assert hparams["preprocessing"]["input_size"] == (3, 75, 75)
    assert hparams["preprocessing"]["mean"] == (0.5, 0.5, 0.5)
    assert hparams["preprocessing"]["interpolation"] == "bicubic"
    assert hparams["backbone"]["name"] == "inception_v3"


def test_best_ckpt_holds_what_evaluation_reads_and_last_ckpt_what_resuming_needs(quickstart_run, tmp_path):
    """best.ckpt is for eval, predict and export (they read it in the tests below): no optimizer state, under
    110 MB for the quickstart's Inception-v3 (262 MB with it); resuming from it says to take last.ckpt."""
    run_dir, _, _ = quickstart_run
    best, last = run_dir / "checkpoints" / "best.ckpt", run_dir / "checkpoints" / "last.ckpt"
    assert best.stat().st_size < 110e6
    assert "optimizer_states" not in torch.load(best, map_location="cpu", weights_only=True)
    assert "optimizer_states" in torch.load(last, map_location="cpu", weights_only=True, mmap=True)
    result = run_entry_point("train.py", *SMALL_QUICKSTART, f"ckpt_path={best}", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 1
    assert "resume from the run's checkpoints/last.ckpt, or ckpt_path=last" in result.stderr
    assert "Traceback" not in result.stderr


def test_quickstart_writes_a_report_that_agrees_with_its_metrics(quickstart_run):
    run_dir, _, result = quickstart_run
    report = run_dir / "report"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for name in ("confusion_matrix", "curves", "roc", "reliability", "mistakes"):
        data = (report / f"{name}.png").read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 10_000
    with open(report / "per_class.csv") as handle:
        rows = {row["class"]: row for row in csv.DictReader(handle)}
    for key in ("precision", "recall", "f1"):
        assert float(rows["macro avg"][key]) == pytest.approx(metrics[f"test/{key}"], abs=1e-6)
    assert float(rows["accuracy"]["f1"]) == pytest.approx(metrics["test/acc"], abs=1e-6)
    summary = json.loads((report / "per_class.json").read_text())
    assert [row["class"] for row in summary["per_class"][:2]] == metrics["class_names"]
    assert summary["auroc"] == pytest.approx(metrics["test/auroc"], abs=1e-6)  # two classes: the binary AUROC

    # Recomputed from the saved predictions alone: recall per class is the confusion matrix's diagonal share.
    with open(report / "predictions.csv") as handle:
        predictions = list(csv.DictReader(handle))
    assert len(predictions) == TEST_IMAGES
    for index, name in enumerate(metrics["class_names"]):
        labelled = [row for row in predictions if row["label"] == name]
        recall = sum(row["predicted"] == name for row in labelled) / len(labelled)
        assert float(rows[name]["recall"]) == pytest.approx(recall, abs=1e-6)
        assert metrics["test/confusion_matrix"][index][index] == sum(row["predicted"] == name for row in labelled)
        probabilities = [sum(float(row[f"p_{other}"]) for other in metrics["class_names"]) for row in labelled]
        assert probabilities == pytest.approx([1.0] * len(labelled), abs=1e-4)
    assert f"Per-class report (test, {TEST_IMAGES} images)" in result.stdout


@pytest.mark.parametrize("split", ["test", "val"])
def test_eval_reproduces_the_runs_own_metrics_exactly(quickstart_run, tmp_path, split):
    run_dir, _, _ = quickstart_run
    # The maps once (the test split, as the run's own report): a second set says nothing new.
    maps = [] if split == "test" else ["cam.enabled=false"]
    result = run_script(
        "eval.py", f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}", f"split={split}", f"hydra.run.dir={tmp_path}",
        *maps,
    )
    trained = json.loads((run_dir / "metrics.json").read_text())
    evaluated = json.loads((tmp_path / "metrics.json").read_text())
    keys = [key for key in trained if key.startswith(f"{split}/")]
    assert len(keys) >= 6
    assert {key: evaluated[key] for key in keys} == {key: trained[key] for key in keys}
    with open(tmp_path / "report" / "per_class.csv") as handle:
        rows = {row["class"]: row for row in csv.DictReader(handle)}
    assert float(rows["accuracy"]["f1"]) == pytest.approx(trained[f"{split}/acc"], abs=1e-6)
    if split == "test":
        assert (tmp_path / "report" / "cam_per_class.png").is_file()
        assert "Class-activation maps (gradcam, stage Mixed_6e, 3 x 3):" in result.stdout


def test_predict_classifies_a_folder_with_the_checkpoint_alone(quickstart_run, tmp_path):
    run_dir, _, _ = quickstart_run
    with open(run_dir / "report" / "predictions.csv") as handle:
        reference = list(csv.DictReader(handle))[::12]  # 9 test images of both classes
    photos = tmp_path / "photos"
    photos.mkdir()
    for index, row in enumerate(reference):
        shutil.copy(row["path"], photos / f"{index:02d}.png")
    (photos / "corrupt.png").write_bytes(b"\x89PNG but not really")
    (photos / "notes.txt").write_text("a file that is no image")
    output = tmp_path / "preds.csv"
    result = run_script(
        "predict.py",
        f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}",
        f"input={photos}",
        f"output={output}",
        "cam=true",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    with open(output) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(reference) + 1  # every readable image, and the unreadable one named
    # cam=true: an overlay per classified file, named as the file, at the model's input size.
    maps = sorted(path.name for path in (tmp_path / "preds_cam").iterdir())
    assert maps == [f"{index:02d}.png" for index in range(len(reference))]
    from PIL import Image

    assert Image.open(tmp_path / "preds_cam" / "00.png").size == (75, 75)
    assert f"Wrote 9 class-activation maps (gradcam) in {tmp_path / 'preds_cam'}" in result.stderr
    (broken,) = [row for row in rows if row["error"]]
    assert broken["path"].endswith("corrupt.png")
    assert broken["predicted"] == ""
    assert "corrupt.png" in result.stderr
    # The console: each file's class (up to 20 files), then what was skipped, the non-image file included.
    for index, row in enumerate(rows[: len(reference)]):
        assert f"{photos / f'{index:02d}.png'}: {row['predicted']} ({float(row['probability']):.3f})" in result.stderr
    assert f"Skipped {photos / 'notes.txt'}: not an image (by its extension" in result.stderr
    assert "Classified 9 of 10 image files; unreadable: 1; not images: 1." in result.stderr
    names = CLASSES
    predicted = [row for row in rows if not row["error"]]
    for row, expected in zip(predicted, reference, strict=True):
        probabilities = [float(row[f"p_{name}"]) for name in names]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert row["predicted"] == expected["predicted"]
        # The same preprocessing as the training run's evaluation: the same probabilities.
        assert probabilities == pytest.approx([float(expected[f"p_{name}"]) for name in names], abs=1e-5)


def test_export_reproduces_the_runs_calibrated_test_probabilities(quickstart_run, tmp_path):
    """TorchScript here (seconds); test_multilabel exports its trained model to ONNX (half a minute on 2 cores
    for the whole Inception-v3), and test_export_any_backbone each architecture to both."""
    from PIL import Image

    from inception_tl.data.preprocessing import eval_transform

    run_dir, _, _ = quickstart_run
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_script(
            "export.py",
            f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}",
            "format=torchscript",
            f"output_dir={tmp_path}",
            f"hydra.run.dir={tmp_path / 'run'}",
        )
    # Quiet unless verbose=true: one line, and none of torch.jit's deprecation warnings.
    wrote = f"Wrote {tmp_path / 'model.torchscript.pt'} and {tmp_path / 'model.json'}"
    assert result.stdout.strip().splitlines() == [wrote]
    assert not [warning for warning in caught if "torch.jit" in str(warning.message)]
    card = json.loads((tmp_path / "model.json").read_text())
    assert card["class_names"] == CLASSES
    # The run's calibration travels with the checkpoint into the export (and the run's report used it too).
    temperature = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)["hyper_parameters"][
        "temperature"
    ]
    assert card["temperature"] == temperature != 1.0
    with open(run_dir / "report" / "predictions.csv") as handle:
        reference = list(csv.DictReader(handle))[::20]
    # The documented input: resized and centre-cropped as model.json says, values in [0, 1], no normalisation.
    preprocessing = {**card["preprocessing"], "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}
    transform = eval_transform(preprocessing)
    images = torch.stack([transform(Image.open(row["path"]).convert("RGB")) for row in reference]).numpy()
    probabilities = torch.jit.load(str(tmp_path / "model.torchscript.pt"))(torch.from_numpy(images)).detach().numpy()
    expected = [[float(row[f"p_{name}"]) for name in card["class_names"]] for row in reference]
    np.testing.assert_allclose(probabilities, np.array(expected), atol=1e-4, rtol=0)


@pytest.fixture(scope="module")
def timm_folder(quickstart_run, shared_tmp):
    """The trained run exported as `python export.py ... format=timm` writes it."""
    run_dir, _, _ = quickstart_run
    folder = shared_tmp("timm-folder") / "shapes-v3"
    result = run_script(
        "export.py",
        f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}",
        "format=timm",
        f"output_dir={folder}",
        f"hydra.run.dir={folder.parent / 'run'}",
    )
    return folder, result


def test_a_timm_folder_loads_in_plain_timm_with_the_checkpoints_logits(quickstart_run, timm_folder):
    """timm alone (local-dir:, its own resolve_data_config + create_transform from config.json) gives the logits of
    the checkpoint, and predict.py's class for each test image."""
    import timm
    from PIL import Image

    from inception_tl.models.loading import load_classifier

    run_dir, _, _ = quickstart_run
    folder, result = timm_folder
    assert result.stdout.strip().splitlines() == [f"Wrote {folder} (config.json, model.safetensors, README.md)"]
    model = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    config = timm.data.resolve_data_config(model=model)
    assert config["input_size"] == (3, 75, 75)
    transform = timm.data.create_transform(**config)
    with open(run_dir / "report" / "predictions.csv") as handle:
        reference = list(csv.DictReader(handle))[::10]
    images = torch.stack([transform(Image.open(row["path"]).convert("RGB")) for row in reference])
    checkpoint = load_classifier(str(run_dir / "checkpoints" / "best.ckpt")).eval()
    temperature = checkpoint.hparams.temperature
    assert temperature != 1.0
    with torch.no_grad():
        logits, expected = model(images), checkpoint(images) * temperature  # the checkpoint's calibrated / T
    np.testing.assert_allclose(logits.numpy(), expected.numpy(), atol=1e-4, rtol=0)
    assert logits.abs().max() > 0.5  # not a trivially small output
    classes = json.loads((folder / "config.json").read_text())["label_names"]
    assert [classes[index] for index in logits.argmax(1).tolist()] == [row["predicted"] for row in reference]


def test_the_model_card_has_its_header_the_runs_test_metrics_and_its_figures(quickstart_run, timm_folder):
    import yaml

    run_dir, _, _ = quickstart_run
    folder, _ = timm_folder
    card = (folder / "README.md").read_text()
    _, header, body = card.split("---\n", 2)
    meta = yaml.safe_load(header)
    assert meta["library_name"] == "timm"
    assert meta["pipeline_tag"] == "image-classification"
    assert "base_model" not in meta  # trained from scratch: no ImageNet weights to credit
    metrics = json.loads((run_dir / "metrics.json").read_text())
    results = body.split("## Results (test split)")[1].split("##")[0]
    rows = {cells[0]: cells[1:] for line in results.splitlines() if line.startswith("| ")
            for cells in [line.strip("|").replace(" ", "").split("|")]}
    for name in ("acc", "f1", "auroc", "loss", "precision", "recall"):
        assert float(rows[name][0]) == pytest.approx(metrics[f"test/{name}"], abs=5e-5)
    for name in ("acc", "f1", "auroc"):  # with the run's bootstrap interval
        assert rows[name][1] == "{:.4f}-{:.4f}".format(*metrics["intervals"][f"test/{name}"])
    assert f"T = {metrics['temperature']:.4f}" in card
    for figure in ("confusion_matrix.png", "reliability.png"):
        assert f"]({figure})" in card
        assert (folder / figure).read_bytes() == (run_dir / "report" / figure).read_bytes()
    overrides = " ".join(SMALL_QUICKSTART)
    assert "python train.py " in card
    assert overrides in card


def test_predict_and_load_model_take_the_folder_as_they_take_the_checkpoint(quickstart_run, timm_folder, tmp_path):
    import inception_tl

    run_dir, _, _ = quickstart_run
    folder, _ = timm_folder
    with open(run_dir / "report" / "predictions.csv") as handle:
        reference = list(csv.DictReader(handle))[::25]
    photos = tmp_path / "photos"
    photos.mkdir()
    for index, row in enumerate(reference):
        shutil.copy(row["path"], photos / f"{index:02d}.png")
    output = tmp_path / "preds.csv"
    run_script("predict.py", f"ckpt_path={folder}", f"input={photos}", f"output={output}",
               f"hydra.run.dir={tmp_path / 'run'}")
    with open(output) as handle:
        rows = list(csv.DictReader(handle))
    for row, expected in zip(rows, reference, strict=True):
        assert row["predicted"] == expected["predicted"]
        for name in CLASSES:  # calibrated as the run's own report
            assert float(row[f"p_{name}"]) == pytest.approx(float(expected[f"p_{name}"]), abs=1e-5)
    model = inception_tl.load_model(str(folder))
    assert model.class_names == CLASSES
    assert not model.training
    # What eval.py rebuilds the run's data from travels in the folder too.
    checkpoint = inception_tl.load_model(str(run_dir / "checkpoints" / "best.ckpt"))
    assert model.hparams.trained_on == checkpoint.hparams.trained_on
    assert model.hparams.preprocessing == checkpoint.hparams.preprocessing
