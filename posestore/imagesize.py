"""Image width and height from the file header, without decoding pixels (JPEG, PNG, GIF, BMP, WebP)."""

from __future__ import annotations

import struct
from pathlib import Path

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` from the header, or None when the file is missing or not an image we know."""
    try:
        with path.open("rb") as fh:
            head = fh.read(32)
            if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
                w, h = struct.unpack(">II", head[16:24])
                return int(w), int(h)
            if head[:6] in (b"GIF87a", b"GIF89a"):
                w, h = struct.unpack("<HH", head[6:10])
                return int(w), int(h)
            if head.startswith(b"BM") and len(head) >= 26:
                w, h = struct.unpack("<ii", head[18:26])
                return int(w), abs(int(h))
            if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
                return _webp(head, fh)
            if head.startswith(b"\xff\xd8"):
                fh.seek(2)
                return _jpeg(fh)
    except OSError:
        return None
    return None


def _jpeg(fh) -> tuple[int, int] | None:
    while True:
        byte = fh.read(1)
        while byte and byte != b"\xff":
            byte = fh.read(1)
        while byte == b"\xff":
            byte = fh.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        length_bytes = fh.read(2)
        if len(length_bytes) < 2:
            return None
        (length,) = struct.unpack(">H", length_bytes)
        if marker in _JPEG_SOF:
            data = fh.read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            return int(w), int(h)
        fh.seek(length - 2, 1)


def _webp(head: bytes, fh) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X":
        w = 1 + int.from_bytes(head[24:27], "little")
        fh.seek(27)
        h = 1 + int.from_bytes(fh.read(3), "little")
        return w, h
    if chunk == b"VP8 ":
        fh.seek(26)
        w, h = struct.unpack("<HH", fh.read(4))
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        b = head[21:25]
        bits = int.from_bytes(b, "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None
