"""Pictures a user might take or draw, made from a digit image (light ink on dark, in [0, 1]).

Each function returns 8-bit pixels ready for ``PIL.Image.fromarray``: the digit enlarged,
off-centre, and as a phone photo of ink on paper, or as strokes a drawing app exports.
"""
import numpy as np
from PIL import Image


def enlarged(ink, side):
    """The digit resized smoothly to ``side`` × ``side`` pixels, values in [0, 1]."""
    image = Image.fromarray(np.asarray(ink, dtype=np.float32), mode="F")
    return np.clip(np.asarray(image.resize((side, side), Image.BICUBIC), dtype=np.float64), 0, 1)


def photo(ink, rng, height=480, width=640, side=200):
    """Dark ink on paper lit unevenly (brighter to the right and down), with sensor noise, off-centre."""
    canvas = np.zeros((height, width))
    top, left = rng.integers(0, height - side), rng.integers(0, width - side)
    canvas[top:top + side, left:left + side] = enlarged(ink, side)
    rows, columns = np.mgrid[0:height, 0:width]
    light = 0.45 + 0.5 * (columns / width) * (0.6 + 0.4 * rows / height)
    paper = light * (1.0 - 0.8 * canvas) + rng.normal(0.0, 0.04, (height, width))
    return (np.clip(paper, 0, 1) * 255).round().astype(np.uint8)


def large_off_centre(ink, height=600, width=500, side=224):
    """White strokes on black, large, near the bottom-left corner."""
    canvas = np.zeros((height, width))
    canvas[height - side - 10:height - 10, 20:20 + side] = enlarged(ink, side)
    return (canvas * 255).round().astype(np.uint8)


def strokes_on_transparent(ink, side=168):
    """Black strokes on a fully transparent background (RGBA), as drawing apps export them."""
    alpha = enlarged(ink, side)
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., 3] = (alpha * 255).round().astype(np.uint8)
    return rgba
