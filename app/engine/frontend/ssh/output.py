"""What a remote script printed, read back: its records, its ``stat`` and hash lines, the files it dumped.

A script reports one line per record, ``<code> <module> [<field>...]``; sections start with a
line ``=<name>`` (``=stat``), and ``=tar`` is followed by a tar archive of the files it dumped
(``remote.py`` says what each script prints).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from app.engine.frontend.ssh import tar_stream


@dataclass
class Output:
    """A script's output split into records, stat lines and the dumped files."""

    records: list[list[str]] = field(default_factory=list)
    sections: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, bytes | None] = field(default_factory=dict)  # None: present but not a regular file

    @classmethod
    def parse(cls, data: bytes) -> Output:
        head, marker, archive = data.partition(b"\n=tar\n")
        if not marker and data.startswith(b"=tar\n"):
            head, archive, marker = b"", data[5:], b"x"
        out = cls()
        section: list[str] | None = None
        for line in head.decode("utf-8", errors="replace").split("\n"):
            if line.startswith("="):
                section = out.sections.setdefault(line[1:], [])
            elif section is not None:
                section.append(line)
            elif line:
                out.records.append(line.split(" ", 2))
        if marker:
            out.files = tar_stream.read_tar(archive)
        return out

    def failure(self) -> str | None:
        """The front-end-wide problem (``X`` record), if any."""
        for record in self.records:
            if record[0] == "X":
                return " ".join(record[1:]) or "unknown"
        return None


def mtimes(lines: Iterable[str]) -> dict[str, int]:
    """``stat`` lines (``<seconds[.fraction]> <path>``) as path -> nanoseconds."""
    found: dict[str, int] = {}
    for line in lines:
        stamp, _, path = line.partition(" ")
        seconds, _, fraction = stamp.partition(".")
        if seconds.isdigit() and (not fraction or fraction.isdigit()):
            found[path] = int(seconds) * 1_000_000_000 + int((fraction + "000000000")[:9])
    return found


def hashes(lines: Iterable[str]) -> dict[str, str]:
    """``sha256sum`` (or ``shasum``/``openssl -r``) lines as path -> hex digest."""
    found: dict[str, str] = {}
    for written in lines:
        escaped = written.startswith("\\")
        line = written[1:] if escaped else written
        digest, path = line[:64], line[66:]
        if len(digest) != 64 or not path:
            continue
        if escaped:
            path = _unescape(path)
        found[path] = digest.lower()
    return found


def _unescape(path: str) -> str:
    out, chars = [], iter(path)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append({"n": "\n", "r": "\r", "\\": "\\"}.get(following, following))
        else:
            out.append(char)
    return "".join(out)
