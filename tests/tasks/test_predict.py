"""predict_files: one result per file in order, unreadable files named, probabilities and mirror TTA right."""

import numpy as np
import pytest
import torch

from inception_tl.data.preprocessing import eval_transform
from inception_tl.data.store.decode import load_rgb
from inception_tl.errors import ConfigError, DataError
from inception_tl.evaluation.file_predictions import predict_files
from inception_tl.tasks.predict import find_images
from tests.helpers import calibrated_classifier, write_image_tree


@pytest.fixture(scope="module")
def model():
    return calibrated_classifier("inception_v3", ["a", "b", "c"])


def classify(model, paths, batch_size=32, tta=False):
    """predict.py's settings on the CPU: in this process, full precision."""
    preprocessing, names = model.hparams.preprocessing, model.class_names
    return predict_files(
        model, paths, preprocessing, names, batch_size=batch_size, num_workers=0, tta=tta, precision="32-true"
    )


@pytest.fixture
def folder(tmp_path):
    root = write_image_tree(tmp_path, {"photos": {"x": 3, "y": 2}})
    (root / "photos" / "x" / "broken.jpg").write_bytes(b"not a jpeg")
    (root / "photos" / "readme.txt").write_text("not an image either, and not an image extension")
    return root / "photos"


def test_a_folder_gives_every_image_file_recursively_in_order_and_the_others_to_say(folder):
    (folder / ".DS_Store").write_bytes(b"hidden: neither")
    images, others = find_images(folder)
    names = [p.relative_to(folder).as_posix() for p in images]
    assert names == ["x/broken.jpg", "x/x-000.png", "x/x-001.png", "x/x-002.png", "y/y-000.png", "y/y-001.png"]
    assert others == [folder / "readme.txt"]


def test_missing_input_and_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="neither an image file nor a folder"):
        find_images(tmp_path / "nowhere")
    with pytest.raises(DataError, match="No image files"):
        find_images(tmp_path)


def test_unreadable_files_are_named_and_the_rest_classified(model, folder):
    paths, _ = find_images(folder)
    result = classify(model, paths, batch_size=4)
    assert set(result.failures) == {0}
    assert "broken.jpg" in result.failures[0]
    assert sorted(result.probabilities) == [1, 2, 3, 4, 5]
    for probabilities in result.probabilities.values():
        assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_flip_tta_is_the_mean_of_the_image_and_its_mirror(model, folder):
    paths = find_images(folder)[0][1:3]
    plain = classify(model, paths)
    tta = classify(model, paths, tta=True)
    images = torch.stack([eval_transform(model.hparams.preprocessing)(load_rgb(str(p))) for p in paths])
    with torch.no_grad():
        mirrored = model(images.flip(-1)).softmax(dim=1).numpy()
    for index in range(2):
        expected = (plain.probabilities[index] + mirrored[index]) / 2
        np.testing.assert_allclose(tta.probabilities[index], expected, atol=1e-6)
    assert not np.allclose(tta.probabilities[0], plain.probabilities[0], atol=1e-7)
