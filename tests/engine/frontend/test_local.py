"""Local front-ends through the target interface: layout, all-or-nothing behaviour across
front-ends, crash leftovers, pruning, configuration, removal and drift detection, on real folders."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.engine import files
from app.engine.artifacts import ArtifactCorruptError, canonical_zip
from app.engine.frontend.content import ReleaseRequest
from app.engine.frontend.layout import release_id_for
from app.engine.frontend.local import module_folder
from app.engine.frontend.local import target as local
from app.engine.frontend.target import FrontendError
from app.engine.frontend.verify import Drift
from tests.engine.frontend.kit import (
    apply_config,
    deploy_release,
    read_current,
    recorded_files,
    remove_module,
    verify_module,
)

MODULE = "Orders"


def artifact_for(version: int) -> bytes:
    return canonical_zip(
        {
            ".build.json": b'{"module":"Orders"}',
            "src/app.py": f"VERSION = {version}\n".encode(),
            "src/pkg/deep/data.txt": b"data",
        }
    )


def deploy(frontends: list[Path], version: int, keep: int = 2, **config: str) -> str:
    artifact = artifact_for(version)
    sha = hashlib.sha256(artifact).hexdigest()
    request = ReleaseRequest(MODULE, version, "11.19.0", sha, config or {"MaxRows": str(version)})
    return deploy_release(frontends, request, artifact, keep=keep)


def everything_under(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*")}


@pytest.fixture
def fl_frontends(tmp_path: Path) -> list[Path]:
    folders = [tmp_path / f"fe{index}" for index in (1, 2, 3)]
    for folder in folders:
        folder.mkdir()
    return folders


def currents(frontends: list[Path]) -> list[str | None]:
    return [read_current(frontend, MODULE) for frontend in frontends]


def releases_of(frontend: Path) -> list[str]:
    return sorted(path.name for path in (frontend / MODULE / "releases").iterdir())


# ---------------------------------------------------------------- the happy path


def test_release_id_is_deterministic_and_safe() -> None:
    sha = "ab" * 32
    assert release_id_for(3, "11.19.0", sha) == "v3-11.19.0-abababababab"
    assert release_id_for(3, "11.19.0", sha) == release_id_for(3, "11.19.0", sha)
    assert "/" not in release_id_for(1, "../x/y", sha)


def test_deploy_to_three_frontends(fl_frontends: list[Path]) -> None:
    release = deploy(fl_frontends, 1)
    for frontend in fl_frontends:
        module = frontend / MODULE
        assert (module / "CURRENT").read_text() == f"{release}\n"
        assert json.loads((module / "config.json").read_text()) == {"MaxRows": "1"}
        folder = module / "releases" / release
        assert (folder / "src" / "app.py").read_bytes() == b"VERSION = 1\n"
        info = json.loads((folder / ".release.json").read_text())
        assert {key: info[key] for key in ("module", "version", "platform")} == {
            "module": MODULE,
            "version": 1,
            "platform": "11.19.0",
        }
        assert info["artifact_sha256"] == hashlib.sha256(artifact_for(1)).hexdigest()
        assert info["files"]["src/pkg/deep/data.txt"] == hashlib.sha256(b"data").hexdigest()
        assert sorted(info["files"]) == [".build.json", "src/app.py", "src/pkg/deep/data.txt"]
        assert recorded_files(frontend, MODULE, release) == info["files"]
        assert sorted(path.name for path in module.iterdir()) == ["CURRENT", "config.json", "releases"]


def test_new_version_switches_and_keeps_the_previous(fl_frontends: list[Path]) -> None:
    first = deploy(fl_frontends, 1)
    second = deploy(fl_frontends, 2)
    assert currents(fl_frontends) == [second] * 3
    assert releases_of(fl_frontends[0]) == sorted([first, second])


def test_same_folder_listed_twice_is_deployed_once(fl_frontends: list[Path]) -> None:
    release = deploy([fl_frontends[0], fl_frontends[0] / "."], 1)
    assert releases_of(fl_frontends[0]) == [release]


# ---------------------------------------------------------------- all or nothing


def test_file_in_place_of_module_folder_fails_everywhere(fl_frontends: list[Path]) -> None:
    previous = deploy(fl_frontends[:2], 1)
    blocker = fl_frontends[2] / MODULE
    blocker.write_text("not a folder")
    with pytest.raises(FrontendError, match=f"{blocker} is a file, but Deploy Center needs a folder") as caught:
        deploy(fl_frontends, 2)
    assert "\n" not in str(caught.value) and str(fl_frontends[2]) in str(caught.value)
    assert currents(fl_frontends[:2]) == [previous, previous]
    for frontend in fl_frontends[:2]:
        assert releases_of(frontend) == [previous]  # the staged v2 was taken back, no .staging left
        assert json.loads((frontend / MODULE / "config.json").read_text()) == {"MaxRows": "1"}
    assert blocker.read_text() == "not a folder"


def test_failed_first_deploy_leaves_no_trace(fl_frontends: list[Path]) -> None:
    (fl_frontends[1] / MODULE).write_text("foreign")
    with pytest.raises(FrontendError):
        deploy(fl_frontends, 1)
    assert everything_under(fl_frontends[0]) == set()
    assert everything_under(fl_frontends[2]) == set()


def test_missing_frontend_folder(fl_frontends: list[Path], tmp_path: Path) -> None:
    gone = tmp_path / "unmounted"
    with pytest.raises(FrontendError, match=f"front-end {gone}: folder does not exist"):
        deploy([*fl_frontends, gone], 1)
    assert currents(fl_frontends) == [None] * 3


def test_foreign_file_in_module_folder_fails_and_stays(fl_frontends: list[Path]) -> None:
    previous = deploy(fl_frontends, 1)
    foreign = fl_frontends[0] / MODULE / "notes.txt"
    foreign.write_text("mine")
    with pytest.raises(FrontendError, match=f"{foreign} was not created by Deploy Center"):
        deploy(fl_frontends, 2)
    assert foreign.read_text() == "mine"
    assert currents(fl_frontends) == [previous] * 3


def test_current_naming_no_release_fails(fl_frontends: list[Path]) -> None:
    deploy(fl_frontends, 1)
    current = fl_frontends[1] / MODULE / "CURRENT"
    current.write_text("v9-made-up\n")
    with pytest.raises(FrontendError, match=f"{current} names 'v9-made-up', which is not a complete release"):
        deploy(fl_frontends, 2)
    assert current.read_text() == "v9-made-up\n"


def test_disk_full_while_staging_cleans_up(fl_frontends: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    previous = deploy(fl_frontends, 1)
    real_write = files.write_new_file

    def full_on_fe2(path: str | Path, data: bytes, **options: Any) -> None:
        if fl_frontends[1] in Path(path).parents and Path(path).name == "data.txt":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data, **options)

    monkeypatch.setattr(module_folder, "write_new_file", full_on_fe2)
    with pytest.raises(FrontendError, match="No space left on device") as caught:
        deploy(fl_frontends, 2)
    assert str(caught.value).startswith(f"front-end {fl_frontends[1]}: {fl_frontends[1]}")
    assert currents(fl_frontends) == [previous] * 3
    for frontend in fl_frontends:
        assert releases_of(frontend) == [previous]


def test_failure_while_switching_puts_current_back(fl_frontends: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    previous = deploy(fl_frontends, 1)
    real_replace = module_folder.replace_file
    failing = fl_frontends[2] / MODULE / "CURRENT"

    def refuse_fe3_current(temp: Path, target: Path) -> None:
        if target == failing:
            raise OSError(errno.EACCES, "Permission denied", str(target))
        real_replace(temp, target)

    monkeypatch.setattr(module_folder, "replace_file", refuse_fe3_current)
    with pytest.raises(FrontendError, match=f"{failing}: Permission denied"):
        deploy(fl_frontends, 2)
    assert currents(fl_frontends) == [previous] * 3
    for frontend in fl_frontends:
        assert json.loads((frontend / MODULE / "config.json").read_text()) == {"MaxRows": "1"}
        assert releases_of(frontend) == [previous]


def test_corrupt_or_malicious_artifact_is_refused_before_any_write(fl_frontends: list[Path]) -> None:
    artifact = artifact_for(1)
    wrong = ReleaseRequest(MODULE, 1, "11.19.0", "0" * 64, {})
    with pytest.raises(ArtifactCorruptError, match="does not match its sha256"):
        deploy_release(fl_frontends, wrong, artifact)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../escape.py", b"boom")
    evil = buffer.getvalue()
    request = ReleaseRequest(MODULE, 1, "11.19.0", hashlib.sha256(evil).hexdigest(), {})
    with pytest.raises(ArtifactCorruptError, match=re.escape("'../../escape.py' climbs out")):
        deploy_release(fl_frontends, request, evil)
    assert all(everything_under(frontend) == set() for frontend in fl_frontends)


def test_stored_and_deflated_members_are_read_and_a_bad_crc_is_refused(fl_frontends: list[Path]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("stored.txt", b"kept as is", compress_type=zipfile.ZIP_STORED)
        archive.writestr("src/packed.py", b"X = 1\n" * 100, compress_type=zipfile.ZIP_DEFLATED)
    mixed = buffer.getvalue()
    request = ReleaseRequest(MODULE, 1, "11.19.0", hashlib.sha256(mixed).hexdigest(), {})
    release = deploy_release(fl_frontends[:1], request, mixed)
    live = fl_frontends[0] / MODULE / "releases" / release
    assert (live / "stored.txt").read_bytes() == b"kept as is"
    assert (live / "src" / "packed.py").read_bytes() == b"X = 1\n" * 100

    damaged = bytearray(mixed)
    damaged[damaged.index(b"kept as is")] ^= 0x20  # one byte of a member changed, central directory intact
    bad = bytes(damaged)
    request = ReleaseRequest("Billing", 1, "11.19.0", hashlib.sha256(bad).hexdigest(), {})
    with pytest.raises(ArtifactCorruptError, match="not a readable zip: bad CRC"):
        deploy_release(fl_frontends, request, bad)
    assert not any((frontend / "Billing").exists() for frontend in fl_frontends)


# ---------------------------------------------------------------- crash leftovers and redeploys


def test_staging_and_temp_leftovers_are_cleared(fl_frontends: list[Path]) -> None:
    previous = deploy(fl_frontends, 1)
    module = fl_frontends[0] / MODULE
    leftover = module / "releases" / ".staging-v2-11.19.0-abc-999-dead"
    (leftover / "src").mkdir(parents=True)
    (leftover / "src" / "half.py").write_text("x = ")
    (module / ".CURRENT.tmp-0123").write_text("v2")
    release = deploy(fl_frontends, 2)
    assert releases_of(fl_frontends[0]) == sorted([previous, release])
    assert sorted(path.name for path in module.iterdir()) == ["CURRENT", "config.json", "releases"]


def test_redeploy_after_crash_before_switch_reuses_the_release(fl_frontends: list[Path]) -> None:
    previous = deploy(fl_frontends, 1)
    staged = deploy(fl_frontends, 2)
    for frontend in fl_frontends:  # as if the process died after staging, before switching
        (frontend / MODULE / "CURRENT").write_text(f"{previous}\n")
    marker = (fl_frontends[0] / MODULE / "releases" / staged / "src" / "app.py").stat().st_ino
    assert deploy(fl_frontends, 2) == staged
    assert currents(fl_frontends) == [staged] * 3
    assert (fl_frontends[0] / MODULE / "releases" / staged / "src" / "app.py").stat().st_ino == marker


def test_release_folder_not_ours_is_not_overwritten(fl_frontends: list[Path]) -> None:
    release = release_id_for(1, "11.19.0", hashlib.sha256(artifact_for(1)).hexdigest())
    squatter = fl_frontends[0] / MODULE / "releases" / release
    squatter.mkdir(parents=True)
    with pytest.raises(FrontendError, match=f"{squatter} exists but was not created by Deploy Center"):
        deploy(fl_frontends, 1)
    assert squatter.is_dir()


# ---------------------------------------------------------------- pruning


def test_pruning_keeps_the_live_release_the_one_before_and_keep_others(fl_frontends: list[Path]) -> None:
    ids = [deploy(fl_frontends, version) for version in range(1, 7)]
    foreign = fl_frontends[0] / MODULE / "releases" / "by-hand"
    foreign.mkdir()
    deploy(fl_frontends, 7)
    ids.append(read_current(fl_frontends[0], MODULE) or "")
    for frontend in fl_frontends:
        own = [name for name in releases_of(frontend) if name != "by-hand"]
        assert own == sorted(ids[-4:])  # live v7, its rollback target v6, and keep=2 others
    assert foreign.is_dir()  # no .release.json: not ours, never pruned


def test_pruning_follows_deploy_order_not_version(fl_frontends: list[Path]) -> None:
    three = [deploy(fl_frontends, version) for version in (1, 2, 3)]
    deploy(fl_frontends, 1)  # roll back to v1: v3 and v2 are now the most recent previous ones
    deploy(fl_frontends, 4, keep=1)
    # Live v4, v1 live before it, and the one most recently deployed of the others: v3.
    assert releases_of(fl_frontends[0]) == sorted([three[0], three[2], read_current(fl_frontends[0], MODULE) or ""])


def test_keep_zero_leaves_the_live_release_and_the_one_before_it(fl_frontends: list[Path]) -> None:
    deploy(fl_frontends, 1)
    second = deploy(fl_frontends, 2)
    live = deploy(fl_frontends, 3, keep=0)
    assert releases_of(fl_frontends[2]) == sorted([second, live])


# ---------------------------------------------------------------- configuration and removal


def test_apply_config_only_where_the_module_is_live(fl_frontends: list[Path]) -> None:
    deploy(fl_frontends[:2], 1)
    apply_config(fl_frontends, MODULE, {"MaxRows": "500", "Mode": "fast"})
    for frontend in fl_frontends[:2]:
        assert json.loads((frontend / MODULE / "config.json").read_text()) == {"MaxRows": "500", "Mode": "fast"}
    assert not (fl_frontends[2] / MODULE).exists()


def test_apply_config_failure_restores_the_others(fl_frontends: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    deploy(fl_frontends, 1)
    real_write = files.write_atomically

    def refuse_last(path: Path, data: bytes, **options: Any) -> None:
        if fl_frontends[2] in path.parents:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        real_write(path, data, **options)

    monkeypatch.setattr(local, "write_atomically", refuse_last)
    with pytest.raises(FrontendError, match="Read-only file system"):
        apply_config(fl_frontends, MODULE, {"MaxRows": "9"})
    for frontend in fl_frontends:
        assert json.loads((frontend / MODULE / "config.json").read_text()) == {"MaxRows": "1"}


def test_remove_module_deletes_only_its_own_files(fl_frontends: list[Path]) -> None:
    deploy(fl_frontends, 1)
    deploy(fl_frontends, 2)
    (fl_frontends[0] / MODULE / "README").write_text("keep me")
    by_hand = fl_frontends[0] / MODULE / "releases" / "by-hand"
    by_hand.mkdir()
    remove_module(fl_frontends, MODULE)
    left = {MODULE, f"{MODULE}/README", f"{MODULE}/releases", f"{MODULE}/releases/by-hand"}
    assert everything_under(fl_frontends[0]) == left
    assert everything_under(fl_frontends[1]) == set()
    remove_module(fl_frontends, MODULE)  # nothing left to do: no error


def test_remove_module_leaves_a_foreign_file_named_like_the_module(fl_frontends: list[Path]) -> None:
    foreign = fl_frontends[0] / MODULE
    foreign.write_text("someone else's")
    remove_module(fl_frontends, MODULE)
    assert foreign.read_text() == "someone else's"


# ---------------------------------------------------------------- verification


def drift(frontend: Path, *problems: str) -> list[Drift]:
    return [Drift(str(frontend), MODULE, problem) for problem in problems]


def test_verify_clean_frontend(fl_frontends: list[Path]) -> None:
    release = deploy(fl_frontends, 1)
    sha = hashlib.sha256(artifact_for(1)).hexdigest()
    assert all(verify_module(frontend, MODULE, release, sha) == [] for frontend in fl_frontends)
    assert verify_module(fl_frontends[0], "Other", None, None) == []


def test_verify_detects_changed_missing_and_extra_files(fl_frontends: list[Path]) -> None:
    release = deploy(fl_frontends, 1)
    folder = fl_frontends[0] / MODULE / "releases" / release
    (folder / "src" / "app.py").write_text("VERSION = 666\n")
    (folder / "src" / "pkg" / "deep" / "data.txt").unlink()
    (folder / "src" / "injected.py").write_text("evil()")
    assert verify_module(fl_frontends[0], MODULE, release, None) == drift(
        fl_frontends[0],
        "file src/app.py changed",
        "file src/pkg/deep/data.txt missing",
        "file src/injected.py is extra",
    )


def test_verify_detects_current_problems(fl_frontends: list[Path]) -> None:
    first = deploy(fl_frontends, 1)
    second = deploy(fl_frontends, 2)
    second_sha = hashlib.sha256(artifact_for(2)).hexdigest()
    (fl_frontends[0] / MODULE / "CURRENT").unlink()
    assert verify_module(fl_frontends[0], MODULE, second, second_sha) == drift(fl_frontends[0], "CURRENT missing")
    (fl_frontends[1] / MODULE / "CURRENT").write_text(f"{first}\n")
    problems = [item.problem for item in verify_module(fl_frontends[1], MODULE, second, second_sha)]
    assert problems == [
        f"CURRENT is {first} but {second} expected",
        f"release {first} holds artifact {first.rsplit('-', 1)[1]} but {second_sha[:12]} expected",
    ]
    assert verify_module(fl_frontends[2], MODULE, None, None) == drift(
        fl_frontends[2], f"CURRENT is {second} but no release is expected"
    )


def test_verify_reports_a_live_release_that_vanished(fl_frontends: list[Path]) -> None:
    release = deploy(fl_frontends, 1)
    (fl_frontends[0] / MODULE / "releases" / release / ".release.json").unlink()
    assert verify_module(fl_frontends[0], MODULE, release, None) == drift(
        fl_frontends[0], f"release {release} is missing or has no readable .release.json"
    )
    assert verify_module(fl_frontends[0].parent / "nowhere", MODULE, release, None)[0].problem == (
        "front-end folder missing"
    )


def test_current_that_is_a_folder_is_reported(fl_frontends: list[Path]) -> None:
    (fl_frontends[0] / MODULE / "CURRENT").mkdir(parents=True)
    with pytest.raises(FrontendError, match=f"front-end {fl_frontends[0]}: .*CURRENT"):
        read_current(fl_frontends[0], MODULE)


def test_apply_config_tolerates_foreign_files(fl_frontends: list[Path]) -> None:
    deploy(fl_frontends, 1)
    (fl_frontends[0] / MODULE / "README").write_text("ops notes")
    apply_config(fl_frontends, MODULE, {"MaxRows": "7"})
    assert json.loads((fl_frontends[0] / MODULE / "config.json").read_text()) == {"MaxRows": "7"}


def test_module_name_is_checked_before_it_becomes_a_folder(fl_frontends: list[Path]) -> None:
    with pytest.raises(ValueError):
        remove_module(fl_frontends, "..")
