"""The tar dumps a remote script sends back: read fast where plain, through tarfile otherwise."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from app.engine.frontend.ssh.tar_stream import read_tar


def archive(members: dict[str, bytes], tar_format: int, link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link is not None:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "elsewhere"
            tar.addfile(info)
    return buffer.getvalue()


MEMBERS = {
    "Orders/config.json": b'{"MaxRows": "1"}\n',
    "Orders/releases/v1-x/.release.json": b"{}" * 700,
    "Billing/config.json": b"",
}
LONG = {"M/" + "deep/" * 40 + ".release.json": b"long", "Orders/config.json": b"x"}


@pytest.mark.parametrize(
    ("tar_format", "members"),
    [
        (tarfile.USTAR_FORMAT, MEMBERS),
        (tarfile.GNU_FORMAT, MEMBERS),
        (tarfile.PAX_FORMAT, MEMBERS),
        (tarfile.GNU_FORMAT, LONG),  # long names: GNU "L" records
        (tarfile.PAX_FORMAT, LONG),  # long names: pax headers
    ],
    ids=["ustar", "gnu", "pax", "gnu-long", "pax-long"],
)
def test_every_format_reads_the_same(tar_format: int, members: dict[str, bytes]) -> None:
    assert read_tar(archive(members, tar_format, link="Orders/CURRENT")) == {**members, "Orders/CURRENT": None}


def test_what_gnu_tar_writes_reads_back(tmp_path: Path) -> None:
    for name, data in MEMBERS.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    names = [*MEMBERS, "Orders/config.json"]  # named twice: the second one becomes a link
    dump = subprocess.run(["tar", "-cf", "-", *names], cwd=tmp_path, capture_output=True, check=True).stdout
    assert read_tar(dump) == MEMBERS


def test_a_truncated_or_damaged_dump_keeps_what_was_whole() -> None:
    whole = archive(MEMBERS, tarfile.GNU_FORMAT)
    assert read_tar(whole[:1536]) == {"Orders/config.json": MEMBERS["Orders/config.json"]}
    damaged = bytearray(whole)
    damaged[0:5] = b"XXXXX"  # the first header's checksum no longer matches: tarfile decides
    assert read_tar(bytes(damaged)) == {}
    assert read_tar(b"") == {}
