"""The Draw view: a picture drawn on the page, prepared as ``bprop predict`` prepares images."""
import base64
import binascii
import io

from bprop.errors import DataError, InputError

MAX_IMAGE_BYTES = 2 * 1024 * 1024


def decode(data_url):
    """The bytes of a ``data:image/png;base64,...`` URL sent by the page's canvas."""
    if not isinstance(data_url, str) or not data_url.startswith("data:image/png;base64,"):
        raise InputError("image must be a data:image/png;base64 URL, as canvas.toDataURL() gives")
    if len(data_url) > MAX_IMAGE_BYTES * 4 // 3 + 64:
        raise InputError(f"the image is larger than {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        return base64.b64decode(data_url.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        raise InputError("image is not valid base64") from None


def pixels(png, n_features, image_format=None):
    """The network's input for the drawing: what ``bprop predict`` makes of the same PNG file
    for a model whose images were made as ``image_format`` says (MNIST's way when None)."""
    from bprop import extras
    from bprop.inputs import read_image

    extras.require("drawing a digit in the playground")
    if n_features < 4 or int(round(n_features ** 0.5)) ** 2 != n_features:
        raise InputError(f"this network takes {n_features} inputs, not a square image; "
                         f"train on digits or MNIST (or load an image model) to draw")
    from bprop.images import BlankPicture

    try:
        return read_image(io.BytesIO(png), n_features, image_format)
    except BlankPicture:  # nothing drawn yet: an empty input, as the page shows it
        import numpy as np

        return np.zeros(n_features)
    except DataError:
        raise InputError("the drawing is not a readable PNG image") from None
