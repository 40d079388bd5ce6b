"""Every image mode becomes upright 8-bit RGB; unreadable files are errors naming the file."""

import numpy as np
import pytest
from PIL import Image

from inception_tl.data.store.decode import load_rgb
from inception_tl.errors import DataError

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def close_to(pixel, colour, tolerance=12) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def test_sixteen_bit_greyscale_is_scaled_not_clipped_to_white(tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(np.full((80, 80), 40000, dtype=np.uint16)).save(path)
    assert Image.open(path).mode.startswith("I")
    pixels = np.asarray(load_rgb(str(path)))
    assert pixels.shape == (80, 80, 3)
    assert (pixels == 40000 >> 8).all()


def test_cmyk_jpeg_becomes_the_same_colour_in_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (80, 80), (0, 255, 255, 0)).save(path, quality=95)  # pure red in CMYK
    image = load_rgb(str(path))
    assert image.mode == "RGB"
    assert close_to(image.getpixel((40, 40)), RED)


def test_transparent_pixels_are_composited_on_white(tmp_path):
    path = tmp_path / "rgba.png"
    image = Image.new("RGBA", (80, 80), (0, 0, 255, 255))
    image.paste((0, 0, 0, 0), (0, 0, 40, 80))  # left half fully transparent black
    image.save(path)
    loaded = load_rgb(str(path))
    assert loaded.getpixel((10, 10)) == WHITE
    assert loaded.getpixel((70, 10)) == BLUE


def test_palette_and_greyscale_become_rgb(tmp_path):
    palette = tmp_path / "palette.png"
    Image.new("RGB", (80, 80), RED).convert("P").save(palette)
    grey = tmp_path / "grey.png"
    Image.new("L", (80, 80), 100).save(grey)
    assert close_to(load_rgb(str(palette)).getpixel((5, 5)), RED)
    assert load_rgb(str(grey)).getpixel((5, 5)) == (100, 100, 100)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    image = Image.new("RGB", (80, 40), BLUE)
    image.paste(RED, (0, 0, 40, 40))  # stored: red on the left, blue on the right, landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned; display rotated 90 degrees clockwise
    image.save(path, exif=exif, quality=95)
    upright = load_rgb(str(path))
    assert upright.size == (40, 80)  # portrait once oriented
    assert close_to(upright.getpixel((20, 10)), RED)  # the stored left half is now on top
    assert close_to(upright.getpixel((20, 70)), BLUE)


@pytest.mark.parametrize(
    ("name", "content"),
    [("notes.png", b"this is a text file with an image name"), ("empty.jpg", b""), ("truncated.png", None)],
)
def test_unreadable_files_are_errors_naming_the_file(tmp_path, name, content):
    path = tmp_path / name
    if content is None:  # the first half of a real PNG
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8)).save(path)
        content = path.read_bytes()[: len(path.read_bytes()) // 2]
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        load_rgb(str(path))
    assert str(path) in str(error.value)
