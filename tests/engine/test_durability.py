"""Group commit of front-end writes: shared flushes, the fsync fallback, and fewer rewrites."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from app.engine import durability
from app.engine.artifacts import canonical_zip
from app.engine.durability import FlushGroup, PendingWrites, make_durable
from app.engine.errors import DeployCenterError
from app.engine.frontend import farm
from app.engine.frontend.content import ReleaseRequest, release_files
from app.engine.frontend.layout import release_id_for
from app.engine.frontend.local.target import LocalTarget
from app.engine.frontend.target import FrontendError, Staged
from tests.engine.frontend.kit import deploy_release, read_current

ARTIFACT = canonical_zip({"src/app.py": b"X = 1\n", "static/site.css": b"body {}\n"})
SHA = hashlib.sha256(ARTIFACT).hexdigest()


def request(version: int = 1, **config: str) -> ReleaseRequest:
    return ReleaseRequest("Orders", version, "11.19.0", SHA, config or {"MaxRows": "1"})


def test_waiters_that_arrive_together_share_flushes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flushed = threading.Event()
    calls: list[Path] = []

    def slow_syncfs(anchor: Path) -> None:
        calls.append(anchor)
        flushed.wait(5)  # the first flush is held until every waiter has arrived

    monkeypatch.setattr(durability, "_syncfs", slow_syncfs)
    group = FlushGroup()
    threads = [threading.Thread(target=group.wait, args=(tmp_path,)) for _ in range(12)]
    for thread in threads:
        thread.start()
    while len(calls) < 1:
        threading.Event().wait(0.01)
    flushed.set()
    for thread in threads:
        thread.join(5)
    # The first flush may have started before the others wrote: they all share a second one.
    assert len(calls) <= 2


def test_a_failed_flush_is_reported_to_its_waiters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durability, "_syncfs", lambda anchor: OSError(5, "Input/output error", str(anchor)))
    with pytest.raises(OSError, match="Input/output error"):
        FlushGroup().wait(tmp_path)


def test_without_syncfs_each_file_and_folder_is_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durability, "_SYNCFS", None)
    synced: list[str] = []
    monkeypatch.setattr(durability, "fsync_file", lambda path: synced.append(f"file {Path(path).name}"))
    monkeypatch.setattr(durability, "fsync_directory", lambda path: synced.append(f"folder {Path(path).name}"))
    (tmp_path / "deep").mkdir()
    make_durable([PendingWrites(tmp_path, [tmp_path / "deep" / "a"], [tmp_path, tmp_path / "deep"])])
    assert synced == ["file a", "folder deep", f"folder {tmp_path.name}"]  # deepest folder first


def test_deploys_the_same_without_syncfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durability, "_SYNCFS", None)
    release = deploy_release([tmp_path], request(), ARTIFACT)
    assert read_current(tmp_path, "Orders") == release
    assert (tmp_path / "Orders" / "releases" / release / "src" / "app.py").read_bytes() == b"X = 1\n"


def test_unchanged_config_and_current_are_not_rewritten(tmp_path: Path) -> None:
    release = deploy_release([tmp_path], request(), ARTIFACT)
    module = tmp_path / "Orders"
    before = {name: (module / name).stat().st_ino for name in ("CURRENT", "config.json")}
    assert deploy_release([tmp_path], request(), ARTIFACT) == release
    assert {name: (module / name).stat().st_ino for name in ("CURRENT", "config.json")} == before
    deploy_release([tmp_path], request(MaxRows="2"), ARTIFACT)
    assert (module / "CURRENT").stat().st_ino == before["CURRENT"]
    assert (module / "config.json").stat().st_ino != before["config.json"]
    assert sorted(path.name for path in module.iterdir()) == ["CURRENT", "config.json", "releases"]


def test_a_staged_release_is_not_live_until_switched(tmp_path: Path) -> None:
    first = deploy_release([tmp_path], request(1), ARTIFACT)
    other = canonical_zip({"src/app.py": b"X = 2\n"})
    target = LocalTarget("fe", tmp_path)
    second = ReleaseRequest("Orders", 2, "11.19.0", hashlib.sha256(other).hexdigest(), {})
    [staged] = target.stage([release_files(second, other)])
    assert isinstance(staged, Staged) and staged.previous_release == first and staged.created
    releases = tmp_path / "Orders" / "releases"
    assert sorted(path.name for path in releases.iterdir()) == sorted([first, staged.release_id])
    assert read_current(tmp_path, "Orders") == first
    target.discard([staged])
    assert sorted(path.name for path in (tmp_path / "Orders").iterdir()) == ["CURRENT", "config.json", "releases"]
    assert [path.name for path in releases.iterdir()] == [first]


def test_a_deferred_switch_flush_is_one_shared_flush_later(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flushed: list[Path] = []
    monkeypatch.setattr(durability, "_syncfs", flushed.append)
    deploy_release([tmp_path], request(), ARTIFACT, flush=False)
    during = len(flushed)
    farm.flush_all([LocalTarget("fe", tmp_path), LocalTarget("gone", tmp_path / "gone")])  # a vanished one is skipped
    assert during == 2 and len(flushed) == 3  # staged content, placed release; then the switch


def test_without_syncfs_a_deferred_switch_is_fsynced_anyway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durability, "_SYNCFS", None)
    synced: list[Path] = []
    monkeypatch.setattr(durability, "fsync_directory", lambda path: synced.append(Path(path)))
    deploy_release([tmp_path], request(), ARTIFACT, flush=False)
    assert synced[-1] == tmp_path / "Orders"  # the folder holding the new CURRENT


def deploy_modules(frontend: Path, names: list[str]) -> list[str | DeployCenterError | None]:
    requests = [ReleaseRequest(name, 1, "11.19.0", SHA, {"MaxRows": "1"}) for name in names]
    target = LocalTarget("fe", frontend)
    rollouts = farm.deploy_releases([target], [release_files(request, ARTIFACT) for request in requests])
    if any(rollout.release_id for rollout in rollouts):
        farm.flush_all([target])
    return [rollout.release_id or rollout.error for rollout in rollouts]


def test_a_batch_of_releases_shares_each_flush(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flushed: list[Path] = []
    monkeypatch.setattr(durability, "_syncfs", flushed.append)
    names = [f"Mod{i}" for i in range(10)]
    results = deploy_modules(tmp_path, names)
    assert results == [release_id_for(1, "11.19.0", SHA)] * 10
    assert len(flushed) == 3  # staged content, placed releases, switches: once for all ten
    assert all(read_current(tmp_path, name) == results[0] for name in names)


def test_one_release_failing_in_a_batch_leaves_the_others_live(tmp_path: Path) -> None:
    blocker = tmp_path / "Bad" / "releases" / release_id_for(1, "11.19.0", SHA)
    blocker.parent.mkdir(parents=True)
    blocker.write_text("in the way")  # a file where the release folder must go
    results = deploy_modules(tmp_path, ["Good1", "Bad", "Good2"])
    assert isinstance(results[1], FrontendError) and "Bad" in str(results[1])
    assert read_current(tmp_path, "Good1") == results[0] and read_current(tmp_path, "Good2") == results[2]
    assert read_current(tmp_path, "Bad") is None
    assert not [p for p in (tmp_path / "Bad" / "releases").iterdir() if p.name.startswith(".")]  # staging removed
    assert blocker.read_text() == "in the way"


def test_a_failed_flush_fails_the_whole_batch_and_leaves_nothing_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(durability, "_syncfs", lambda anchor: OSError(5, "Input/output error", str(anchor)))
    results = deploy_modules(tmp_path, ["Mod1", "Mod2"])
    assert all(isinstance(result, FrontendError) for result in results)
    assert "Input/output error" in str(results[0])
    assert list(tmp_path.iterdir()) == []  # the module folders this batch created are gone again
