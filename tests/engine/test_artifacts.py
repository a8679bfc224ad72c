"""The artifact store, the shared zip rules and the atomic-write helper."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import zipfile
from pathlib import Path

import pytest

from app.engine.artifacts import (
    ArtifactCorruptError,
    ArtifactStore,
    PendingZip,
    canonical_zip,
    member_path_problem,
    sha256_hex,
)
from app.engine.errors import DeployCenterError
from app.engine.files import write_atomically


def stored(store: ArtifactStore, data: bytes) -> str:
    """Store a zip's bytes as the engine does (prepared, then committed); its sha256."""
    return store.commit([PendingZip(sha256_hex(data), len(data), data, None)])[0]


def test_store_is_created_lazily(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    assert not (tmp_path / "artifacts").exists()
    assert not store.exists("0" * 64)


def test_put_writes_content_addressed_file(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    sha = stored(store, b"payload")
    assert sha == hashlib.sha256(b"payload").hexdigest()
    assert store.path(sha) == tmp_path / "artifacts" / sha[:2] / f"{sha}.zip"
    assert store.path(sha).read_bytes() == b"payload"
    assert store.exists(sha) and store.read(sha) == b"payload"


def test_put_is_idempotent_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    sha = stored(store, b"payload")
    inode = store.path(sha).stat().st_ino
    assert stored(store, b"payload") == sha
    assert store.path(sha).stat().st_ino == inode  # not rewritten
    assert [path.name for path in store.path(sha).parent.iterdir()] == [f"{sha}.zip"]


def test_read_missing_names_the_sha(tmp_path: Path) -> None:
    sha = "ab" * 32
    with pytest.raises(ArtifactCorruptError, match=f"artifact {sha} is missing") as caught:
        ArtifactStore(tmp_path).read(sha)
    assert isinstance(caught.value, DeployCenterError) and caught.value.exit_code == 1


def test_read_detects_corruption_and_put_repairs_it(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    sha = stored(store, b"payload")
    store.path(sha).write_bytes(b"tampered")
    with pytest.raises(ArtifactCorruptError, match=f"artifact {sha} is corrupt"):
        store.read(sha)
    stored(store, b"payload")
    assert store.read(sha) == b"payload"


def test_path_refuses_what_is_not_a_sha(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ArtifactStore(tmp_path).path("../../etc/passwd")


def test_failed_write_keeps_old_content_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "CURRENT"
    target.write_bytes(b"old\n")

    def full_disk(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        write_atomically(target, b"new\n")
    assert target.read_bytes() == b"old\n"
    assert [path.name for path in tmp_path.iterdir()] == ["CURRENT"]


def test_canonical_zip_is_deterministic_whatever_the_input_order() -> None:
    first = canonical_zip({"b.txt": b"2", "a/x.py": b"1"})
    second = canonical_zip({"a/x.py": b"1", "b.txt": b"2"})
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["a/x.py", "b.txt"]
        assert archive.read("b.txt") == b"2"


@pytest.mark.parametrize(
    "name",
    ["", "/abs", "a\\b", "C:x", "a/../b", "..", "a//b", "./a", "a/.", "nul\x00", "del\x7f", "nel\x85", "bad\udcff"],
)
def test_unsafe_member_paths(name: str) -> None:
    assert member_path_problem(name) is not None


@pytest.mark.parametrize("name", ["a.py", "src/pkg/mod.py", ".hidden", "a..b", "übung.txt"])
def test_safe_member_paths(name: str) -> None:
    assert member_path_problem(name) is None
