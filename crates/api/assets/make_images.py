#!/usr/bin/env python3
"""Writes the images ferrodon embeds (crates/api/src/assets.rs) into this directory.

    python3 crates/api/assets/make_images.py

Plain RGB PNGs drawn here, with the standard library only:
- missing-avatar.png: 400x400, one grey (an account without an avatar);
- missing-header.png: 1500x500, a lighter grey (an account without a header);
- thumbnail.png: 1200x630, the instance thumbnail: a rust-coloured disc on a dark slate ground.
"""

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def png(width: int, height: int, rows) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(row) for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def plain(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    row = list(rgb) * width
    return png(width, height, (row for _ in range(height)))


def thumbnail(width: int = 1200, height: int = 630) -> bytes:
    ground, disc = (0x2B, 0x33, 0x3E), (0xC4, 0x5A, 0x2C)
    cx, cy, r = width / 2, height / 2, height * 0.3

    def row(y: int) -> list[int]:
        out: list[int] = []
        for x in range(width):
            inside = (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r
            out.extend(disc if inside else ground)
        return out

    return png(width, height, (row(y) for y in range(height)))


if __name__ == "__main__":
    (HERE / "missing-avatar.png").write_bytes(plain(400, 400, (0x9A, 0x9A, 0x9A)))
    (HERE / "missing-header.png").write_bytes(plain(1500, 500, (0xC8, 0xC8, 0xC8)))
    (HERE / "thumbnail.png").write_bytes(thumbnail())
