"""Front-end targets as typed: a local folder, or ``ssh://[user@]host[:port]/absolute/path``.

``parse_ssh_url`` checks an ``ssh://`` target completely, so that a malformed one is refused with
one line (``BadInputError``, exit 2) before anything is stored (``frontend.kinds.parse_target``
tells the kinds of target apart).

What an ``ssh://`` target may hold, and why:

- ``user``: letters, digits, ``.``, ``_`` and ``-``, not starting with ``-``. No password
  (``user:secret@``): passwords are never stored nor sent.
- ``host``: a host name or an alias of the OpenSSH client configuration (letters, digits, ``.``,
  ``_``, ``-``, not starting with ``-`` or ``.``), an IPv4 address, or an IPv6 address in brackets.
- ``port``: 1 to 65535; without it the configuration's ``Port`` (or 22) applies.
- ``path``: absolute, made of segments in the portable file name characters (letters, digits,
  ``.``, ``_``, ``-``) plus ``+``, ``@``, ``,`` and ``=``; no segment starts with ``-`` (``tar``
  and ``rm`` would read it as an option), and no ``.`` or ``..`` segment (one folder must have one
  spelling, so that a target given twice is recognised). Spaces, quotes, ``$``, ``*``, ``\\``,
  ``%`` and control characters are refused even though every path is shell-quoted on the remote:
  ``sha256sum`` and ``tar`` escape some of them in their output, and a name that reads the same
  everywhere is worth more than the freedom. A trailing ``/`` is dropped.
- No query (``?``) nor fragment (``#``), and no ``%`` escapes: the target is taken literally.

Anything else that contains ``://`` is an unknown scheme; everything without it is a local folder.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from app.engine.errors import BadInputError

SCHEME = "ssh://"
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
_HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,252}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._+@,=][A-Za-z0-9._+@,=-]*$")
_Complaint = Callable[[str], BadInputError]  # makes the one-line error for a problem


@dataclass(frozen=True)
class SshUrl:
    """A checked ``ssh://`` target. ``port`` and ``user`` are None when the target does not say."""

    host: str  # as written (an alias is resolved by the ssh configuration); IPv6 without brackets
    path: str  # absolute, no trailing slash
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{SCHEME}{user}{host}{port}{self.path}"


def is_ssh_target(text: str) -> bool:
    """Whether ``text`` names a remote front-end (it may still be malformed)."""
    return text[: len(SCHEME)].lower() == SCHEME


def parse_ssh_url(text: str) -> SshUrl:
    """Check and split ``ssh://[user@]host[:port]/absolute/path``; BadInputError names what is wrong."""

    def bad(problem: str) -> BadInputError:
        return BadInputError(f"front-end target {text!r}: {problem}")

    if not is_ssh_target(text):
        raise bad("not an ssh:// target")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise bad("contains a control character")
    rest = text[len(SCHEME) :]
    if "?" in rest or "#" in rest:
        raise bad("a query (?) or fragment (#) is not allowed")
    authority, slash, path = rest.partition("/")
    if not slash:
        raise bad("no path; write ssh://host/absolute/path")
    user, host, port = _split_authority(authority, bad)
    return SshUrl(host=host, path=_checked_path("/" + path, bad), user=user, port=port)


def _split_authority(authority: str, bad: _Complaint) -> tuple[str | None, str, int | None]:
    user: str | None = None
    if "@" in authority:
        user, _, authority = authority.rpartition("@")
        if ":" in user:
            raise bad("a password in the target is not allowed; use keys or the ssh agent")
        if not _USER.match(user):
            raise bad(f"bad user name {user!r}")
    port_text: str | None = None
    if authority.startswith("["):
        host, bracket, after = authority[1:].partition("]")
        if not bracket:
            raise bad("unclosed [ in the host")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise bad(f"{host!r} in brackets is not an IPv6 address") from None
        if after:
            if not after.startswith(":"):
                raise bad(f"unexpected {after!r} after the host")
            port_text = after[1:]
    else:
        host, colon, after = authority.partition(":")
        if colon:
            port_text = after
        if not host:
            raise bad("empty host")
        if not _HOST.match(host) or ".." in host or host.startswith("."):
            raise bad(f"bad host name {host!r}")
    return user, host, _checked_port(port_text, bad)


def _checked_port(text: str | None, bad: _Complaint) -> int | None:
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        hint = "" if text else " (nothing after ':')"
        if text and not text[:1].isdigit():
            hint = " (a relative path? the path starts with / right after the host)"
        raise bad(f"port {text!r} is not a number{hint}")
    port = int(text)
    if not 1 <= port <= 65535:
        raise bad(f"port {port} is out of range (1-65535)")
    return port


def _checked_path(path: str, bad: _Complaint) -> str:
    if path.startswith("//"):
        raise bad("the path must be absolute, with a single / after the host")
    segments = path.rstrip("/").split("/")[1:]
    if not segments:
        raise bad("the path is the root folder; give the front-end's own folder")
    for segment in segments:
        if not segment:
            raise bad("empty segment (//) in the path")
        if segment in (".", ".."):
            raise bad(f"{segment!r} in the path; write the folder's plain absolute path")
        if segment.startswith("~"):
            raise bad("a path relative to the home folder (~) is not allowed; give the absolute path")
        if segment.startswith("-"):
            raise bad(f"path segment {segment!r} starts with '-'")
        if not _SEGMENT.match(segment):
            odd = sorted({char for char in segment if not _SEGMENT.match(char) and char != "-"})
            raise bad(f"character(s) {''.join(odd)!r} in the path; use letters, digits and . _ - + @ , =")
    return "/" + "/".join(segments)
