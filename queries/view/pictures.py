"""The pictures a view page embeds: image thumbnails and crowd masks, made with Pillow.

A page must open from disk and travel by mail, so every picture is a ``data:`` URI inside
it: images as JPEG thumbnails (a few tens of kilobytes each), crowd regions as small
translucent PNG masks.
"""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posestore.paths import relative_inside

THUMBNAIL_PX = 360
"""The longest side of an embedded thumbnail, in pixels (a grid card is about 320 wide)."""

JPEG_QUALITY = 72

CROWD_RGB = (255, 64, 64)
"""Crowd regions are drawn in one colour, translucent, whatever the instance's colour."""


@dataclass(frozen=True)
class Thumbnail:
    """An image as the page shows it: a ``data:`` URI, or why there is none."""

    uri: str | None
    problem: str | None = None
    """``not found``, ``unreadable``, ``outside the image folder``, or ``no image folder``."""
    size: tuple[int, int] | None = None
    """The image's own width and height, read from the file."""


def image_file(image_dir: Path | None, file_name: str | None) -> Path | str:
    """Where an image's file is, or why it cannot be looked for (a ``file_name`` that leaves
    the image folder is never read)."""
    if image_dir is None:
        return "no image folder"
    if not file_name:
        return "no file name"
    path = relative_inside(file_name, image_dir)
    return "outside the image folder" if path is None else path


def thumbnails(files: list[Path | str], size: int = THUMBNAIL_PX) -> list[Thumbnail]:
    """A thumbnail per file (a string in place of a path says why there is no file), made on
    two threads: Pillow decodes and resizes without holding the GIL."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda f: thumbnail(f, size), files))


def thumbnail(path: Path | str, size: int = THUMBNAIL_PX) -> Thumbnail:
    """One image as a JPEG ``data:`` URI whose longest side is at most ``size`` pixels."""
    if isinstance(path, str):
        return Thumbnail(None, path)
    if not path.is_file():
        return Thumbnail(None, "not found")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            full = im.size
            im.draft("RGB", (size, size))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
            small = im.convert("RGB")
            small.thumbnail((size, size))
            out = io.BytesIO()
            small.save(out, "JPEG", quality=JPEG_QUALITY)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return Thumbnail(None, "unreadable")
    return Thumbnail(data_uri(out.getvalue(), "image/jpeg"), None, full)


def data_uri(content: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"


def crowd_mask(
    size: list[int], counts: list[int] | None, compressed: str | None, longest: int = THUMBNAIL_PX
) -> str | None:
    """A crowd region's RLE (``size`` ``[height, width]``, ``counts`` as a list or COCO's
    compressed string) as a translucent PNG ``data:`` URI at most ``longest`` pixels a side,
    or None when the RLE is empty or malformed."""
    from PIL import Image

    if not size or len(size) != 2 or min(size) <= 0:
        return None
    height, width = int(size[0]), int(size[1])
    runs = np.asarray(counts, dtype=np.int64) if counts is not None else _string_counts(compressed)
    if runs is None or not len(runs) or (runs < 0).any():
        return None
    # runs alternate background, foreground, … over the pixels in column-major order
    flat = np.repeat((np.arange(len(runs)) % 2).astype(np.uint8), runs)[: height * width]
    flat = np.pad(flat, (0, height * width - len(flat)))
    mask = Image.fromarray(flat.reshape(width, height).T * 255)
    scale = min(1.0, longest / max(width, height))
    if scale < 1:
        mask = mask.resize(
            (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX
        )
    alpha = (np.asarray(mask, dtype=np.float32) * 0.55).astype(np.uint8)
    rgba = np.empty((*alpha.shape, 4), dtype=np.uint8)
    rgba[..., :3] = CROWD_RGB
    rgba[..., 3] = alpha
    out = io.BytesIO()
    Image.fromarray(rgba).save(out, "PNG", optimize=True)
    return data_uri(out.getvalue(), "image/png")


def _string_counts(text: str | None) -> np.ndarray | None:
    """COCO's compressed RLE string (pycocotools' ``rleFrString``) as run lengths, in NumPy:
    each run is 5-bit groups (continuation bit 0x20, sign bit 0x10 in the last), and runs
    after the second are stored as differences from the run two before."""
    if not text:
        return None
    c = np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8).astype(np.int64) - 48
    if (c < 0).any() or (c > 63).any():
        return None
    last = (c & 0x20) == 0
    if not last[-1]:
        return None
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    token = np.repeat(np.arange(len(ends)), ends - starts + 1)
    shift = 5 * (np.arange(len(c)) - starts[token])
    values = np.bincount(token, weights=(c & 0x1F) << shift).astype(np.int64)
    negative = (c[ends] & 0x10) != 0
    values[negative] -= np.left_shift(1, 5 * (ends - starts + 1)[negative])
    # runs 3, 5, 7 … add run 1, 3, 5 …; runs 4, 6, … add run 2, 4, …
    out = values.copy()
    if len(out) > 3:
        out[3::2] = np.cumsum(values[1::2])[1 : len(out[3::2]) + 1]
    if len(out) > 4:
        out[4::2] = np.cumsum(values[2::2])[1 : len(out[4::2]) + 1]
    return out
