"""Big files travel by reference: bundle, source zip, artifact and front-ends never hold them whole.

The memory figure itself (a 500 MB file under 200 MB of peak memory) is the benchmark's
(``bench/big_bundle.py``); these tests hold the path that keeps it there: which files are read
and which referenced, that the bytes arrive intact everywhere, and that a refusal leaves nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest

from app.engine import blobs
from app.engine.artifacts import SMALL_ZIP, ArtifactStore
from app.engine.blobs import FileSlice, ZipMember
from app.engine.bundle import load_bundle, prepare_source
from app.engine.compiler import PlatformSpec, compile_bundle
from app.engine.errors import BundleError
from app.engine.frontend.content import ReleaseRequest, release_files
from app.engine.read import views
from tests.engine.envkit import Kit, make_kit

# Over the size of a zip built in memory, so that the artifact is read by reference too; not a
# multiple of any chunk size.
BIG = SMALL_ZIP + 12345


def big_content(size: int = BIG) -> bytes:
    return hashlib.shake_256(b"deploy center").digest(size)  # incompressible, and reproducible


@pytest.fixture
def kit(tmp_path: Path) -> Kit:
    return make_kit(tmp_path)


def big_bundle(kit: Kit, name: str = "Media", data: bytes | None = None) -> Path:
    folder = kit.bundle(name)
    (folder / "assets").mkdir()
    (folder / "assets" / "video.bin").write_bytes(big_content() if data is None else data)
    return folder


def zipped(folder: Path) -> Path:
    target = folder.with_suffix(".zip")
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def test_a_big_file_is_referenced_and_small_ones_are_read(kit: Kit) -> None:
    folder = big_bundle(kit)
    from_folder = load_bundle(folder).files
    assert isinstance(from_folder["assets/video.bin"], FileSlice)
    assert isinstance(from_folder["src/main.py"], bytes) and isinstance(from_folder["module.toml"], bytes)

    from_zip = load_bundle(zipped(folder)).files
    member = from_zip["assets/video.bin"]
    assert isinstance(member, ZipMember) and member.size == BIG
    assert isinstance(from_zip["src/main.py"], bytes)


def test_a_published_big_file_arrives_intact_and_verify_agrees(kit: Kit) -> None:
    outcome = kit.publish(big_bundle(kit, "Media"), zipped(big_bundle(kit, "Archive", big_content(BIG + 1))))
    assert outcome.status == "succeeded"

    for module, size in (("Media", BIG), ("Archive", BIG + 1)):
        live = kit.frontends[0] / module / "releases" / str(kit.current(module))
        assert (live / "assets" / "video.bin").read_bytes() == big_content(size)
        info = json.loads((live / ".release.json").read_text())
        assert info["files"]["assets/video.bin"] == hashlib.sha256(big_content(size)).hexdigest()
    assert views.verify(kit.ctx).drift == ()


def test_artifacts_store_their_members_uncompressed_so_a_deploy_is_a_copy(kit: Kit, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    outcome = compile_bundle(load_bundle(big_bundle(kit)), PlatformSpec("11.19.0", frozenset()), {}, store)
    assert outcome.succeeded and outcome.artifact_sha256 is not None
    artifact = store.load(outcome.artifact_sha256)
    assert isinstance(artifact, Path), "a big artifact is handed on as its path, not its bytes"
    with zipfile.ZipFile(artifact) as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}

    request = ReleaseRequest("Media", 1, "11.19.0", outcome.artifact_sha256, {})
    files = release_files(request, artifact).files
    video = files["assets/video.bin"]
    assert isinstance(video, FileSlice) and video.path == str(artifact)
    assert blobs.read_all(video) == big_content()


def test_a_big_file_that_changes_while_it_is_published_refuses_the_bundle(kit: Kit) -> None:
    folder = big_bundle(kit)
    bundle = load_bundle(folder)
    os.truncate(folder / "assets" / "video.bin", 1000)

    with pytest.raises(BundleError, match=r"video\.bin is shorter than when it was read") as refused:
        prepare_source(bundle, kit.ctx.artifacts, f"bundle {folder}")
    assert refused.value.exit_code == 2
    assert not list(kit.ctx.artifacts.root.glob("*.zip")), "no temp file is left in the store"


def test_a_refused_publish_leaves_no_source_of_its_big_bundles_behind(kit: Kit) -> None:
    good = big_bundle(kit)
    broken = kit.bundle("Broken")
    (broken / "module.toml").write_text('name = "Broken"\nnot toml at all\n')

    with pytest.raises(BundleError):
        kit.publish(good, broken)
    assert not kit.ctx.artifacts.root.exists() or not any(p.is_file() for p in kit.ctx.artifacts.root.rglob("*"))


def test_a_python_file_too_big_to_byte_compile_fails_its_compilation(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.engine import compiler

    monkeypatch.setattr(compiler, "MAX_PYTHON_SOURCE", 1000)
    bundle = load_bundle(kit.bundle("Generated", files={"src/tables.py": "ROWS = [\n" + "1,\n" * 600 + "]\n"}))
    outcome = compile_bundle(bundle, PlatformSpec("11.19.0", frozenset()), {}, ArtifactStore(tmp_path / "s"))
    assert not outcome.succeeded and outcome.artifact_sha256 is None
    assert str(outcome.reason).startswith("src/tables.py is larger than"), outcome.reason


def test_temp_zips_a_dead_process_left_are_swept_and_young_ones_kept(kit: Kit) -> None:
    store = kit.ctx.artifacts
    store.root.mkdir(parents=True, exist_ok=True)
    old, young = store.root / ".incoming-0123456789abcdef.zip", store.root / ".incoming-fedcba9876543210.zip"
    for temp in (old, young):
        temp.write_bytes(b"half a zip")
    os.utime(old, (1_000_000_000, 1_000_000_000))

    kit.publish(kit.bundle("Orders"))

    assert not old.exists(), "a day-old temp is a dead process's"
    assert young.exists(), "a fresh one may be another publish's, still being written"


def test_a_damaged_big_zip_member_refuses_the_bundle_and_stores_nothing(kit: Kit) -> None:
    bundle = zipped(big_bundle(kit))
    damaged = bytearray(bundle.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # inside the big member: only reading it finds the damage
    bundle.write_bytes(bytes(damaged))

    with pytest.raises(BundleError, match=r"zip entry 'assets/video\.bin' cannot be read: Bad CRC-32") as refused:
        kit.publish(bundle)
    assert refused.value.exit_code == 2
    assert not any(path.is_file() for path in kit.ctx.artifacts.root.rglob("*"))


def test_a_publish_of_many_bundles_keeps_their_sources_on_disk_until_they_are_stored(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.engine.kinds import publish

    monkeypatch.setattr(publish, "HELD_SOURCES", 0)  # every source zip goes to disk at once
    outcome = kit.publish(*(kit.bundle(f"Small{index}") for index in range(3)))

    assert outcome.status == "succeeded"
    assert not list(kit.ctx.artifacts.root.glob(".incoming-*")), "the temps became stored zips"
    for index in range(3):
        assert kit.current(f"Small{index}") is not None
