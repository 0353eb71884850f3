"""Predictions on real pictures: photos, large and off-centre digits, strokes on transparency.

Pictures are made from real digits (scikit-learn's, always; MNIST's test digits when the
shared copy is present) and read through ``bprop predict`` as a user runs it.
"""
import json
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import pictures
from bprop import images
from bprop.errors import DataError
from cli_helpers import bprop as run_bprop

MNIST_DIR = "/work/shared/data/mnist"
MNIST = images.default_format((28, 28))


def _rendered_digit():
    """A '3' drawn with a font, light on dark, large: an independent test picture."""
    from PIL import ImageDraw, ImageFont

    image = Image.new("L", (120, 160), 0)
    ImageDraw.Draw(image).text((20, 10), "3", fill=255, font=ImageFont.load_default(size=120))
    return np.asarray(image, dtype=np.float64) / 255


# ---- the preparation itself ------------------------------------------------------------------
def test_prepared_ink_fills_a_20_pixel_box_with_its_centre_of_mass_at_the_centre():
    out = images.prepare(_rendered_digit(), None, MNIST).reshape(28, 28)
    rows, columns = np.flatnonzero((out > 0).any(axis=1)), np.flatnonzero((out > 0).any(axis=0))
    assert max(rows[-1] - rows[0], columns[-1] - columns[0]) + 1 == 20
    grid_rows, grid_columns = np.indices(out.shape)
    centre = ((grid_rows * out).sum() / out.sum(), (grid_columns * out).sum() / out.sum())
    assert abs(centre[0] - 14) <= 0.5 and abs(centre[1] - 14) <= 0.5   # MNIST's (14.0, 14.0)
    assert out.max() == pytest.approx(1.0) and out.min() == 0.0


def test_a_clean_mnist_style_digit_passes_nearly_unchanged():
    clean = images.prepare(_rendered_digit(), None, MNIST).reshape(28, 28)
    again = images.prepare(clean, None, MNIST).reshape(28, 28)
    assert np.abs(again - clean).max() < 0.05


@pytest.mark.parametrize("make", ["photo", "large_off_centre", "inverted", "strokes_on_transparent"])
def test_the_same_digit_in_any_picture_prepares_to_nearly_the_same_pixels(make):
    ink = _rendered_digit()
    small = images.prepare(ink, None, MNIST).reshape(28, 28)
    # The pictures enlarge the 28-pixel digit smoothly: compare with its clean enlargement.
    reference = images.prepare(pictures.enlarged(small, 200), None, MNIST)
    if make == "photo":
        gray, alpha = pictures.photo(small, np.random.default_rng(0)) / 255, None
    elif make == "large_off_centre":
        gray, alpha = pictures.large_off_centre(small) / 255, None
    elif make == "inverted":
        gray, alpha = 1.0 - ink, None
    else:
        rgba = pictures.strokes_on_transparent(small)
        gray, alpha = rgba[..., 0] / 255, rgba[..., 3] / 255
    out = images.prepare(gray, alpha, MNIST)
    if make == "inverted":
        reference = small.ravel()
    assert _similarity(out, reference) > 0.9


def _similarity(a, b):
    """Correlation of two 28 × 28 images, the best over shifts of up to one pixel (centring
    by the centre of mass rounds to whole pixels, so a half-pixel difference can move one)."""
    a, b = a.reshape(28, 28), b.reshape(28, 28)
    return max(np.corrcoef(np.roll(a, (dy, dx), axis=(0, 1)).ravel(), b.ravel())[0, 1]
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_strokes_on_transparency_are_not_read_as_an_empty_picture():
    rgba = pictures.strokes_on_transparent(pictures.enlarged(_rendered_digit(), 28))
    out = images.prepare(rgba[..., 0] / 255, rgba[..., 3] / 255, MNIST)
    assert out.sum() > 20  # the old reading gave all zeros here


def test_a_blank_picture_is_refused():
    with pytest.raises(DataError, match="no drawing found"):
        images.prepare(np.full((50, 60), 0.8), None, MNIST)


def test_a_picture_filling_its_frame_is_centred_by_its_box():
    out = images.prepare(_rendered_digit(), None, images.format_for("digits", (8, 8))).reshape(8, 8)
    rows = np.flatnonzero((out > 0).any(axis=1))
    assert rows[0] == 0 and rows[-1] == 7   # the longer side fills the frame, as in the digits set


def _png_header_only(path, width, height):
    """A PNG that claims width × height pixels (its data is never reached)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


# ---- through the command ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    pytest.importorskip("sklearn")
    folder = tmp_path_factory.mktemp("pictures") / "run"
    run_bprop("train", "--epochs", 30, "--no-plots", "--quiet", "--out", folder, check=0)
    return folder / "model-best.npz"


def test_predict_refuses_a_picture_too_large_to_decode_in_one_line(digits_model, tmp_path):
    _png_header_only(tmp_path / "huge.png", 9000, 8000)
    result = run_bprop("predict", digits_model, tmp_path / "huge.png")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "9000 × 8000 pixels" in result.stderr


def test_predict_reads_photos_and_drawings_of_real_digits(digits_model, tmp_path):
    """The digits model reads photos, enlargements and transparent drawings of test digits
    (the data set's own split) about as well as the raw 8 × 8 rows."""
    from bprop.data import load_dataset

    X_test, y_test = load_dataset("digits").test
    X_test, y_test = X_test[:40], y_test[:40]
    rng = np.random.default_rng(0)
    paths = {"photo": [], "large": [], "transparent": []}
    for i, row in enumerate(X_test):
        ink = row.reshape(8, 8)
        for kind, pixels in (("photo", pictures.photo(ink, rng)), ("large", pictures.large_off_centre(ink)),
                             ("transparent", pictures.strokes_on_transparent(ink))):
            path = tmp_path / f"{kind}-{i}.{'jpg' if kind == 'photo' else 'png'}"
            Image.fromarray(pixels).save(path)
            paths[kind].append(path)
    np.save(tmp_path / "raw.npy", X_test)
    raw = json.loads(run_bprop("predict", digits_model, tmp_path / "raw.npy", "--json", check=0).stdout)
    raw_accuracy = np.mean([item["prediction"] == y for item, y in zip(raw, y_test)])
    for kind, files in paths.items():
        items = json.loads(run_bprop("predict", digits_model, *files, "--json", check=0).stdout)
        accuracy = np.mean([item["prediction"] == y for item, y in zip(items, y_test)])
        assert accuracy >= min(0.8, raw_accuracy - 0.1), (kind, accuracy, raw_accuracy)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(MNIST_DIR), reason="needs the shared MNIST copy")
def test_an_mnist_model_reads_photos_and_drawings_of_mnist_test_digits(tmp_path):
    """A model that reads the raw MNIST test digits right reads most of their pictures right."""
    import bprop
    from bprop.data import load_dataset

    data = load_dataset("mnist", data_dir=MNIST_DIR)
    net = bprop.Network([784, 100, 10], ["relu", "softmax"], "cross_entropy", seed=0)
    X_train, y_train = data.train
    net.fit(X_train[:10000], y_train[:10000], epochs=1, batch_size=32, learning_rate=0.1, momentum=0.9)
    net.image_format = images.format_for("mnist", (28, 28))
    net.save(tmp_path / "mnist.npz")
    X, y = data.test[0][:60], data.test[1][:60]
    raw_accuracy = float((net.predict(X) == y).mean())
    rng = np.random.default_rng(1)
    for kind in ("photo", "large", "transparent"):
        files = []
        for i, row in enumerate(X):
            ink = row.reshape(28, 28)
            pixels = (pictures.photo(ink, rng) if kind == "photo" else pictures.large_off_centre(ink)
                      if kind == "large" else pictures.strokes_on_transparent(ink))
            files.append(tmp_path / f"{kind}-{i}.png")
            Image.fromarray(pixels).save(files[-1])
        items = json.loads(run_bprop("predict", tmp_path / "mnist.npz", *files, "--json", check=0).stdout)
        accuracy = np.mean([item["prediction"] == label for item, label in zip(items, y)])
        assert accuracy >= raw_accuracy - 0.05, (kind, accuracy, raw_accuracy)
