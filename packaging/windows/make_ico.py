"""Pack the app icon's PNG renditions into packaging/windows/deploycenter.ico.

Windows (Vista and later) reads PNG images inside an .ico, so no image library is needed. The
installer and the .exe use the result; run again after re-rendering the icons:

    python3 packaging/windows/make_ico.py
"""

from __future__ import annotations

import struct
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SIZES = (16, 32, 48, 64, 128, 256)
TARGET = Path(__file__).with_name("deploycenter.ico")


def ico_bytes(images: dict[int, bytes]) -> bytes:
    header = struct.pack("<HHH", 0, 1, len(images))  # reserved, type 1 = icon, count
    directory = b""
    offset = len(header) + 16 * len(images)
    for size, data in images.items():
        edge = 0 if size >= 256 else size  # 0 stands for 256
        directory += struct.pack("<BBBBHHII", edge, edge, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return header + directory + b"".join(images.values())


def main() -> None:
    icons = REPO / "resources" / "icons"
    images = {size: (icons / f"deploycenter-{size}.png").read_bytes() for size in SIZES}
    TARGET.write_bytes(ico_bytes(images))


if __name__ == "__main__":
    main()
