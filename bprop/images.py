"""Pictures prepared the way the training images were made, so a model reads them as it was taught.

MNIST's digits were made like this (LeCun, Cortes and Burges): the ink, light on dark,
cropped to its bounding box, scaled so its longer side is 20 pixels keeping the aspect
ratio, then placed in a 28 × 28 field with its centre of mass at the field's centre.
``prepare`` does the same to any picture, after the steps a photo or a drawing app's
export needs first:

1. composite transparency onto a background (black strokes on a transparent background
   are what drawing apps export; without this they would become an all-black image);
2. decide the polarity from the border's median and invert dark-on-light to light-on-dark;
3. remove uneven background light (a smooth surface fitted to the background), then stretch the
   contrast so the background is 0 and the ink peaks at 1, ignoring the noise floor;
4. crop to the ink's bounding box;
5. scale the longer side to ``box`` pixels (20 of 28 for MNIST), keeping the aspect ratio;
6. centre by the centre of mass (MNIST) or by the bounding box (data whose images fill
   their frame: scikit-learn's digits, Fashion-MNIST).

An ``ImageFormat`` says how a model's training images were made; a model file carries it
(see ``bprop.io``), and ``format_for`` gives the one of a named data set.
"""
import dataclasses

import numpy as np

from bprop.errors import DataError

# Pictures larger than this are refused before they are decoded (a small compressed PNG can
# claim 14000 × 14000 pixels); a 48-megapixel phone photo still fits.
MAX_PIXELS = 64 * 2**20
# Pictures are reduced to this longer side before they are cleaned: plenty for a 28-pixel
# result, and it bounds the work and memory of every later step.
WORKING_SIDE = 280


@dataclasses.dataclass(frozen=True)
class ImageFormat:
    """How a model's training images were made.

    Attributes
    ----------
    shape : (height, width) of the model's input image.
    box : the ink's longer side, in pixels of that image (MNIST: 20 of 28).
    centre : ``"mass"`` (the ink's centre of mass at the image's centre, as MNIST) or
        ``"box"`` (the bounding box centred).
    """

    shape: tuple
    box: int
    centre: str = "mass"

    def to_json(self):
        return {"shape": list(self.shape), "box": self.box, "centre": self.centre}

    @classmethod
    def from_json(cls, value):
        """An ImageFormat from ``to_json``'s dict; raises ValueError when it is not one."""
        if not isinstance(value, dict):
            raise ValueError("not a dict")
        shape = value.get("shape")
        if (not isinstance(shape, list) or len(shape) != 2
                or not all(isinstance(n, int) and 0 < n <= 4096 for n in shape)):
            raise ValueError(f"shape {shape!r} is not (height, width)")
        box = value.get("box")
        if not isinstance(box, int) or not 0 < box <= max(shape):
            raise ValueError(f"box {box!r} does not fit the shape")
        centre = value.get("centre", "mass")
        if centre not in ("mass", "box"):
            raise ValueError(f"centre {centre!r} is not 'mass' or 'box'")
        return cls(tuple(shape), box, centre)


def default_format(shape):
    """MNIST's proportions for a ``shape`` image: ink in a box 20/28 of the side, centred by mass."""
    return ImageFormat(tuple(shape), max(1, round(max(shape) * 20 / 28)), "mass")


# How each named data set's images were made.
_FILLED = {"digits", "fashion-mnist"}  # images that fill their frame, centred by their box


def format_for(dataset_name, shape):
    """The ImageFormat of a named data set's images of ``shape`` (MNIST's for unknown names)."""
    if shape is None:
        return None
    if dataset_name in _FILLED:
        return ImageFormat(tuple(shape), max(shape), "box")
    return default_format(shape)


class BlankPicture(DataError):
    """The picture holds no drawing: one flat colour, or fully transparent."""


# ---- reading a picture ---------------------------------------------------------------------
def read_picture(path, image_format):
    """The picture at ``path`` prepared as ``image_format``: float64 pixels in [0, 1], light on dark."""
    gray, alpha = load_picture(path)
    try:
        return prepare(gray, alpha, image_format)
    except DataError as error:
        raise type(error)(f"{path}: {error}") from None


def load_picture(path):
    """(gray, alpha) float32 arrays in [0, 1] of the picture at ``path``; alpha None if opaque.

    EXIF orientation is applied (phone photos), the size is checked before decoding, and
    large pictures are reduced to ``WORKING_SIDE`` while decoding where the format allows.
    """
    from bprop import extras

    Image = extras.load("reading images", "PIL.Image", error=DataError)
    ImageOps = extras.load("reading images", "PIL.ImageOps", error=DataError)
    UnidentifiedImageError = Image.UnidentifiedImageError
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise DataError(
                    f"{path} is {width} × {height} pixels, more than the {MAX_PIXELS / 2**20:.0f} "
                    "megapixels bprop decodes; scale it down first")
            if image.format == "JPEG":  # let the decoder shrink it: far less memory for big photos
                image.draft("L" if image.mode == "L" else "RGB", (WORKING_SIDE, WORKING_SIDE))
            image.load()
            image = ImageOps.exif_transpose(image)
            image = _reduced(image)
            return _channels(image)
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DataError(f"{path} is not a readable image ({error})") from None


def _reduced(image):
    from PIL import Image

    longer = max(image.size)
    if longer <= WORKING_SIDE:
        return image
    scale = WORKING_SIDE / longer
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    image = _with_alpha_or_gray(image)
    return image.resize(size, Image.BOX)


def _with_alpha_or_gray(image):
    """The image as "LA" (gray + alpha) when it has transparency, else "L" or a 16-bit mode."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return image.convert("F") if image.mode != "F" else image
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        return image.convert("RGBA").convert("LA")
    return image.convert("L")


def _channels(image):
    image = _with_alpha_or_gray(image)
    if image.mode == "F":  # 16-bit or float pictures: scale by the range their values use
        gray = np.asarray(image, dtype=np.float32)
        top = 65535.0 if gray.max() > 255 else 255.0 if gray.max() > 1 else 1.0
        return np.clip(gray / top, 0, 1), None
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    if image.mode == "LA":
        gray, alpha = pixels[..., 0], pixels[..., 1]
        return gray, (None if alpha.min() >= 1.0 else alpha)
    return pixels, None


# ---- preparing it --------------------------------------------------------------------------
def prepare(gray, alpha, image_format):
    """Pixels of ``image_format.shape``, in [0, 1], light ink on a dark background.

    ``gray`` and ``alpha`` are 2-D arrays in [0, 1] (alpha None for an opaque picture).
    Raises DataError when the picture holds no ink.
    """
    gray = _at_most_working_size(np.asarray(gray, dtype=np.float64))
    if alpha is not None:
        gray = composite(gray, _at_most_working_size(np.asarray(alpha, dtype=np.float64)))
    ink = as_light_on_dark(gray)
    ink = clean(ink, image_format)
    top, bottom, left, right = ink_box(ink)
    patch = scale_to_box(ink[top:bottom, left:right], image_format.box)
    return place(patch, image_format).reshape(-1)


def composite(gray, alpha):
    """Flatten a transparent picture onto a background.

    Strokes on a transparent background (mostly transparent: what drawing apps export)
    go onto the background that contrasts with the strokes' own colour; a mostly opaque
    picture with transparent margins goes onto its own median colour.
    """
    weight = alpha.sum()
    if weight == 0:
        raise BlankPicture("the picture is fully transparent: nothing is drawn")
    if (alpha > 0.5).mean() > 0.5:
        background = float(np.median(gray[alpha > 0.5]))
    else:
        ink_level = float((gray * alpha).sum() / weight)
        background = 1.0 if ink_level < 0.5 else 0.0
    return alpha * gray + (1.0 - alpha) * background


def as_light_on_dark(gray):
    """Invert when the background (the median of the outer frame) is light."""
    return 1.0 - gray if np.median(_frame(gray)) > 0.5 else gray.copy()


def _frame(image):
    """The pixels of the image's outer frame (1/20 of the shorter side thick, at least 1)."""
    t = max(1, min(image.shape) // 20)
    return np.concatenate([image[:t].ravel(), image[-t:].ravel(), image[:, :t].ravel(), image[:, -t:].ravel()])


def clean(ink, image_format):
    """Remove uneven background light and noise; stretch the ink to peak at 1.

    The background light is a smooth surface (a quadratic in the pixel coordinates)
    fitted to the pixels that are not ink, found by refitting without the pixels well
    above the surface; it is subtracted. Values up to the background's noise floor (its
    median plus four robust standard deviations) become 0, and the rest is stretched so the
    ink's brightest value is 1. The noise is measured on the picture's outer frame, which
    is mostly background. A clean MNIST-like picture passes unchanged.
    """
    longer = max(ink.shape)
    photo = longer > 3 * max(image_format.shape)
    if photo:
        ink = _filter(ink, 3, np.mean)  # take the edge off pixel noise
    ink = np.clip(ink - background_light(ink), 0.0, None)
    frame = _frame(ink)                                # mostly background: its noise
    median = float(np.median(frame))
    spread = 1.4826 * float(np.median(np.abs(frame - median)))
    top = float(ink.max())
    floor = min(median + 4.0 * spread, 0.5 * top)
    if top - floor < 0.05:
        raise BlankPicture("no drawing found: the picture is one flat colour")
    return np.clip((ink - floor) / (top - floor), 0.0, 1.0)


def background_light(image, rounds=4):
    """The background's light: the border's level when it is evenly lit (its darker half
    flat, since ink may touch the border), else a quadratic surface fitted to the pixels
    that are not bright ink."""
    frame = _frame(image)
    low, middle = np.percentile(frame, [10, 50])
    if middle - low < 0.05:
        return float(low)
    h, w = image.shape
    step = max(1, max(h, w) // 96)                    # fit on a grid of at most ~96 × 96 points
    rows, columns = np.mgrid[0:h:step, 0:w:step]
    values = image[::step, ::step].ravel()
    y, x = rows.ravel() / max(h - 1, 1) - 0.5, columns.ravel() / max(w - 1, 1) - 0.5
    terms = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    keep = values <= np.percentile(values, 75)        # ink is the bright minority
    for _ in range(rounds):
        if keep.sum() < terms.shape[1]:
            return np.full(image.shape, float(np.median(image)))
        kept = terms[keep]
        coefficients = np.linalg.solve(kept.T @ kept + 1e-9 * np.eye(6), kept.T @ values[keep])
        residual = values - terms @ coefficients
        spread = 1.4826 * np.median(np.abs(residual[keep])) + 1e-6
        keep = residual < 3.0 * spread
    y, x = np.mgrid[0:h, 0:w]
    y, x = y / max(h - 1, 1) - 0.5, x / max(w - 1, 1) - 0.5
    c = coefficients
    return c[0] + c[1] * x + c[2] * y + c[3] * x * x + c[4] * x * y + c[5] * y * y


def ink_box(ink, level=0.1):
    """(top, bottom, left, right) of the ink's bounding box, ignoring isolated specks."""
    mask = ink > level
    if min(ink.shape) >= 3 and mask.sum() > 4:
        kept = _filter(mask.astype(np.float32), 3, np.median) > 0.5  # drops lone pixels
        if kept.any():  # and keeps the pixels next to what stays, the strokes' thin edges
            mask &= _filter(kept.astype(np.float32), 3, np.max) > 0
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        raise BlankPicture("no drawing found: the picture is one flat colour")
    return rows[0], rows[-1] + 1, columns[0], columns[-1] + 1


def scale_to_box(patch, box):
    """``patch`` resized so its longer side is ``box`` pixels, aspect kept, peaking at 1."""
    from PIL import Image

    h, w = patch.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size != (w, h):
        image = Image.fromarray(patch.astype(np.float32), mode="F")
        patch = np.asarray(image.resize(size, Image.BOX if scale < 1 else Image.BICUBIC),
                           dtype=np.float64)
    patch = np.clip(patch, 0.0, 1.0)
    return patch / patch.max() if patch.max() > 0 else patch


def place(patch, image_format):
    """The patch in an empty image of ``image_format.shape``, centred by mass or by box."""
    H, W = image_format.shape
    h, w = patch.shape
    if image_format.centre == "mass" and patch.sum() > 0:
        rows, columns = np.indices(patch.shape)
        mass = patch.sum()
        # MNIST's centres of mass sit at (14.0, 14.0) in 0-based pixel indices: H/2, W/2.
        top = round(H / 2 - (rows * patch).sum() / mass)
        left = round(W / 2 - (columns * patch).sum() / mass)
    else:
        top, left = (H - h) // 2, (W - w) // 2
    top, left = min(max(top, 0), H - h), min(max(left, 0), W - w)
    canvas = np.zeros((H, W))
    canvas[top:top + h, left:left + w] = patch
    return canvas


def _at_most_working_size(a):
    """``a`` reduced (by area averaging) so its longer side is at most WORKING_SIDE."""
    from PIL import Image

    h, w = a.shape
    if max(h, w) <= WORKING_SIDE:
        return a
    scale = WORKING_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize(size, Image.BOX), dtype=np.float64)


def _filter(a, size, reduce):
    """A ``size`` × ``size`` sliding-window filter (edges repeated); separable for min, max, mean."""
    if size <= 1:
        return a
    pad = size // 2
    padded = np.pad(a, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view
    if reduce is np.median:
        return np.median(windows(padded, (size, size)), axis=(-2, -1))
    rows = reduce(windows(padded, size, axis=0), axis=-1)
    return reduce(windows(rows, size, axis=1), axis=-1)
