"""The contract every front-end target keeps, run against each kind: a local folder, and a folder
on a real sshd. A new kind of front-end is done when its target passes this file unchanged.

Each test talks to the target only through ``FrontendTarget`` and looks at the folder where the
front-end's files are (the suite's sshd serves a folder of this machine), so that what one kind
leaves on disk is what every kind leaves.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.engine.blobs import read_all
from app.engine.frontend.layout import OWNER_FILE
from app.engine.frontend.local.target import LocalTarget
from app.engine.frontend.target import FrontendError, FrontendTarget, Prune, SizedTarget, Staged, Switch
from tests.engine.frontend import kit
from tests.engine.frontend.conftest import FAST, go_live, release_for, staged, tree
from tests.sshd import ONE_WORKER


@dataclass(frozen=True)
class FrontendUnderTest:
    """A front-end folder of one kind, and a way to open new targets on it (closed after the test)."""

    kind: str
    folder: Path
    make: Callable[[Path | None], FrontendTarget]  # a target on the folder, or on another one


@pytest.fixture(params=["local", pytest.param("ssh", marks=ONE_WORKER)])
def frontend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FrontendUnderTest]:
    made: list[FrontendTarget] = []
    if request.param == "ssh":
        from app.engine.frontend.ssh.target import SshTarget
        from tests.sshd import SshServer

        server: SshServer = request.getfixturevalue("server")
        folder = server.folder("front")

        def make(where: Path | None = None) -> FrontendTarget:
            made.append(SshTarget("web", server.url(where or folder), FAST))
            return made[-1]
    else:
        folder = tmp_path / "front"
        folder.mkdir()

        def make(where: Path | None = None) -> FrontendTarget:
            made.append(LocalTarget("web", where or folder))
            return made[-1]

    yield FrontendUnderTest(request.param, folder, make)
    for target in made:
        target.close()


@pytest.fixture
def folder(frontend: FrontendUnderTest) -> Path:
    return frontend.folder


@pytest.fixture
def target(frontend: FrontendUnderTest) -> FrontendTarget:
    return frontend.make(None)


def test_check_passes_on_a_folder_and_names_a_missing_one(frontend: FrontendUnderTest) -> None:
    frontend.make(None).check()
    missing = frontend.make(frontend.folder / "nowhere")
    with pytest.raises(FrontendError, match=r"front-end .*/nowhere: folder does not exist"):
        missing.check()


def test_the_remote_layout_is_byte_for_byte_the_local_deployers(
    target: FrontendTarget, folder: Path, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    local.mkdir()
    for version in (1, 2):
        release, request, artifact = release_for("Orders", version)
        kit.deploy_release([local], request, artifact, keep=5)
        [result] = target.stage([release])
        assert isinstance(result, Staged) and result.created
        assert target.switch([Switch("Orders", release.release_id, release.config)]) == [None]
        target.flush()
    # config.json aside: the remote one is written 0600 as rules.md#secrets asks.
    assert tree(folder, frozenset({"config.json"})) == tree(local, frozenset({"config.json"}))
    assert stat.S_IMODE((folder / "Orders" / "config.json").stat().st_mode) == 0o600
    live = (local / "Orders" / "CURRENT").read_text().strip()
    assert (folder / "Orders" / "releases" / live / ".release.json").read_bytes() == (
        local / "Orders" / "releases" / live / ".release.json"
    ).read_bytes()


def test_a_staged_release_is_complete_but_not_live(target: FrontendTarget, folder: Path) -> None:
    [result] = staged(target, "Orders")
    assert result.previous_release is None and result.previous_config is None
    module = folder / "Orders"
    assert not (module / "CURRENT").exists() and not (module / "config.json").exists()
    assert sorted(os.listdir(module / "releases")) == [result.release_id]
    assert target.read_current(["Orders"]) == {"Orders": None}


def test_stage_reports_what_was_live_for_switching_back(target: FrontendTarget) -> None:
    first = go_live(target, 1)
    [second] = staged(target, "Orders", version=2)
    assert second.previous_release == first.release_id
    assert second.previous_config == release_for("Orders", 1)[0].config


def test_switch_and_switch_back(target: FrontendTarget, folder: Path) -> None:
    go_live(target, 1)
    new, _request, _artifact = release_for("Orders", 2)
    [result] = target.stage([new])
    assert isinstance(result, Staged)
    assert target.switch([Switch("Orders", new.release_id, new.config)]) == [None]
    assert target.read_current(["Orders"]) == {"Orders": new.release_id}
    assert target.read_config(["Orders"]) == {"Orders": new.config}
    back = Switch("Orders", result.previous_release, result.previous_config)
    assert target.switch([back]) == [None]
    target.flush()
    assert target.read_current(["Orders"]) == {"Orders": release_for("Orders", 1)[0].release_id}
    assert target.read_config(["Orders"]) == {"Orders": release_for("Orders", 1)[0].config}
    leftovers = [name for name in os.listdir(folder / "Orders") if ".tmp-" in name]
    assert leftovers == []


def test_switching_to_nothing_removes_current_and_config(target: FrontendTarget, folder: Path) -> None:
    go_live(target, 1)
    assert target.switch([Switch("Orders", None, None)]) == [None]
    assert not (folder / "Orders" / "CURRENT").exists()
    assert target.read_config(["Orders"]) == {"Orders": None}


def test_a_switch_without_a_module_folder_fails_alone(target: FrontendTarget) -> None:
    go_live(target, 1)
    release = release_for("Orders", 1)[0]
    errors = target.switch(
        [Switch("Ghost", release.release_id, b"{}\n"), Switch("Orders", release.release_id, b"{}\n")]
    )
    assert isinstance(errors[0], FrontendError) and "Ghost" in str(errors[0])
    assert errors[1] is None
    assert target.read_config(["Orders", "Ghost"]) == {"Orders": b"{}\n", "Ghost": None}


def test_a_switch_to_a_release_the_front_end_does_not_hold_fails_and_changes_nothing(
    target: FrontendTarget, folder: Path
) -> None:
    live = go_live(target, 1)
    missing = release_for("Orders", 2)[0]
    [error] = target.switch([Switch("Orders", missing.release_id, missing.config)])
    assert isinstance(error, FrontendError) and missing.release_id in str(error), error
    assert target.read_current(["Orders"]) == {"Orders": live.release_id}
    assert target.read_config(["Orders"]) == {"Orders": release_for("Orders", 1)[0].config}


def test_an_identical_release_is_reused_not_written_again(target: FrontendTarget, folder: Path) -> None:
    [first] = staged(target, "Orders")
    folder = folder / "Orders" / "releases" / first.release_id
    inode = (folder / "src" / "app.py").stat().st_ino
    [again] = staged(target, "Orders")
    assert again.created is False and again.release_id == first.release_id
    assert (folder / "src" / "app.py").stat().st_ino == inode


def test_a_different_artifact_under_the_same_release_id_is_refused(target: FrontendTarget) -> None:
    release = release_for("Orders", 1)[0]
    staged(target, "Orders")
    forged = type(release)(**{**release.__dict__, "artifact_sha256": "0" * 64})
    [result] = target.stage([forged])
    assert isinstance(result, FrontendError)
    assert "holds a different artifact under the same release id" in str(result)


@pytest.mark.parametrize(
    ("make_foreign", "says"),
    [
        (lambda m: (m / "notes.txt").write_text("mine"), "notes.txt was not created by Deploy Center"),
        (lambda m: (m / "CURRENT").mkdir(), "CURRENT is not a regular file"),
        (lambda m: (m / "releases").write_text("x"), "releases is a file"),
        (lambda m: (m / "releases").symlink_to("/tmp"), "releases is a symbolic link"),
    ],
)
def test_foreign_entries_fail_that_module_and_are_left_alone(
    target: FrontendTarget, folder: Path, make_foreign: object, says: str
) -> None:
    module = folder / "Orders"
    module.mkdir()
    make_foreign(module)  # type: ignore[operator]
    before = tree(module) if not (module / "releases").is_symlink() else None
    orders, other = target.stage([release_for("Orders")[0], release_for("Billing")[0]])
    assert isinstance(orders, FrontendError)
    assert says in str(orders) and target.location in str(orders)
    assert isinstance(other, Staged)
    if before is not None:
        assert tree(module) == before


def test_a_release_folder_that_is_not_ours_is_refused(target: FrontendTarget, folder: Path) -> None:
    release = release_for("Orders")[0]
    squatter = folder / "Orders" / "releases" / release.release_id
    squatter.mkdir(parents=True)
    (squatter / "index.html").write_text("someone else's")
    [result] = target.stage([release])
    assert isinstance(result, FrontendError) and "exists but was not created by Deploy Center" in str(result)
    assert os.listdir(squatter) == ["index.html"]


def test_a_module_folder_that_is_a_file_or_a_link_is_refused(target: FrontendTarget, folder: Path) -> None:
    (folder / "Orders").write_text("x")
    (folder / "Billing").symlink_to("/tmp")
    orders, billing = target.stage([release_for("Orders")[0], release_for("Billing")[0]])
    assert isinstance(orders, FrontendError) and "Orders is a file" in str(orders)
    assert isinstance(billing, FrontendError) and "Billing is a symbolic link" in str(billing)
    assert (folder / "Orders").read_text() == "x"


def test_current_naming_no_complete_release_fails_the_module(target: FrontendTarget, folder: Path) -> None:
    (folder / "Orders" / "releases").mkdir(parents=True)
    (folder / "Orders" / "CURRENT").write_text("v7-gone\n")
    [result] = target.stage([release_for("Orders")[0]])
    assert isinstance(result, FrontendError) and "names 'v7-gone', which is not a complete release" in str(result)


def test_discard_removes_only_created_releases_that_are_not_live(target: FrontendTarget, folder: Path) -> None:
    live = go_live(target, 1)
    [fresh] = staged(target, "Orders", version=2)
    live_again = Staged("Orders", live.release_id, None, None, created=True)  # claims too much: it is live
    target.discard([fresh, live_again])
    assert sorted(os.listdir(folder / "Orders" / "releases")) == [live.release_id]


def test_list_releases_is_oldest_first_and_prune_keeps_what_it_must(target: FrontendTarget, folder: Path) -> None:
    ids = [go_live(target, version).release_id for version in (1, 2, 3, 4, 5)]
    listed = target.list_releases(["Orders", "Nobody"])
    assert [meta.release_id for meta in listed["Orders"]] == ids
    assert [meta.version for meta in listed["Orders"]] == [1, 2, 3, 4, 5]
    assert listed["Nobody"] == []
    orders = [meta.order for meta in listed["Orders"]]
    assert orders == sorted(orders) and len(set(orders)) == 5
    (folder / "Orders" / "releases" / "handmade").mkdir()  # not ours: no .release.json
    target.prune([Prune("Orders", protect=frozenset({ids[4], ids[0]}), keep=1)])
    assert sorted(os.listdir(folder / "Orders" / "releases")) == sorted([ids[0], ids[3], ids[4], "handmade"])


def test_prune_after_switches_keeps_only_what_it_must_whoever_switched(frontend: FrontendUnderTest) -> None:
    """What a stage saw is not what the folder holds once the module switched back, or was switched
    by another target: prune works from what is there."""
    target, other = frontend.make(None), frontend.make(None)
    first = go_live(target, 1).release_id
    go_live(target, 2)
    assert target.switch([Switch("Orders", first, b"{}\n")]) == [None]  # back, by the target that staged 2
    target.prune([Prune("Orders", protect=frozenset({first}), keep=0)])
    assert first in os.listdir(frontend.folder / "Orders" / "releases")  # a target may keep 2 a while more
    third = staged(target, "Orders", version=3)[0].release_id
    assert other.switch([Switch("Orders", third, b"{}\n")]) == [None]  # another target switches it
    target.prune([Prune("Orders", protect=frozenset({third}), keep=0)])
    assert os.listdir(frontend.folder / "Orders" / "releases") == [third]


def test_stats_count_what_the_target_did_and_connections_do_not_grow_with_batches(target: FrontendTarget) -> None:
    before = target.stats()
    assert all(value >= 0 for value in before.as_tuple())
    go_live(target, 1)
    first = target.stats()
    assert all(now >= then for now, then in zip(first.as_tuple(), before.as_tuple(), strict=True))
    assert first.syncs > before.syncs, "staging and flushing wait for the disk at least once"
    for batch in range(3):
        modules = [f"B{batch}M{index:02d}" for index in range(40)]
        assert all(isinstance(r, Staged) for r in target.stage([release_for(m)[0] for m in modules]))
        releases = [release_for(m)[0] for m in modules]
        assert target.switch([Switch(r.module, r.release_id, r.config) for r in releases]) == [None] * 40
        target.flush()
    after = target.stats()
    assert (after.connections, after.sessions) == (first.connections, first.sessions)
    assert after.syncs - first.syncs <= 3 * 3, "a few syncs a batch, not one a module"
    assert (after - first).syncs == after.syncs - first.syncs and (after - after) == type(after)()


def test_reusing_a_release_makes_it_the_newest(target: FrontendTarget) -> None:
    first = go_live(target, 1).release_id
    go_live(target, 2)
    go_live(target, 1)  # back to 1: found, reused, stamped newest
    listed = [meta.release_id for meta in target.list_releases(["Orders"])["Orders"]]
    assert listed[-1] == first


def test_remove_deletes_what_deploy_center_made_and_nothing_else(target: FrontendTarget, folder: Path) -> None:
    go_live(target, 1)
    go_live(target, 2)
    go_live(target, 1, module="Billing")
    (folder / "Orders" / "releases" / "handmade").mkdir()
    (folder / "Orders" / "README").write_text("keep me")
    target.remove(["Orders", "Billing", "Absent"])
    assert sorted(tree(folder / "Orders")) == ["README", "releases", "releases/handmade"]
    assert (folder / "Orders" / "README").read_text() == "keep me"
    assert not (folder / "Billing").exists()


def test_read_live_hashes_files_on_the_server(target: FrontendTarget, folder: Path) -> None:
    release = release_for("Orders", 1)[0]
    go_live(target, 1)
    staged(target, "Billing")
    [orders, billing] = target.read_live(["Orders", "Billing"])
    expected = {name: hashlib.sha256(read_all(data)).hexdigest() for name, data in release.files.items()}
    assert orders.release_id == release.release_id
    assert dict(orders.hashes) == expected
    assert orders.info is not None and orders.info["files"] == expected
    assert billing.release_id is None and billing.info is None and dict(billing.hashes) == {}
    folder = folder / "Orders" / "releases" / release.release_id
    (folder / "src" / "app.py").write_text("tampered")
    (folder / "src" / "link").symlink_to("app.py")
    [orders] = target.read_live(["Orders"])
    assert orders.hashes["src/app.py"] == hashlib.sha256(b"tampered").hexdigest()
    assert orders.hashes["src/link"] is None


def test_write_config_replaces_and_removes(target: FrontendTarget, folder: Path) -> None:
    go_live(target, 1)
    target.write_config([("Orders", b'{"MaxRows": "7"}\n')])
    assert (folder / "Orders" / "config.json").read_bytes() == b'{"MaxRows": "7"}\n'
    target.write_config([("Orders", None)])
    assert target.read_config(["Orders"]) == {"Orders": None}
    assert target.read_current(["Orders"]) == {"Orders": release_for("Orders", 1)[0].release_id}


def test_a_batch_larger_than_one_script_is_split_and_complete(target: FrontendTarget, folder: Path) -> None:
    modules = [f"M{index:04d}" for index in range(620)]
    results = target.stage([release_for(module)[0] for module in modules])
    assert all(isinstance(result, Staged) for result in results)
    switches = [Switch(m, release_for(m)[0].release_id, b"{}\n") for m in modules]
    assert target.switch(switches) == [None] * len(modules)
    target.flush()
    current = target.read_current(modules)
    assert all(current[m] == release_for(m)[0].release_id for m in modules)
    assert sorted(entry.name for entry in folder.iterdir()) == modules


def test_bad_module_names_never_reach_the_server(target: FrontendTarget) -> None:
    with pytest.raises(ValueError, match="not a valid module name"):
        target.read_current(["../etc"])
    with pytest.raises(ValueError, match="not a valid module name"):
        target.stage([release_for("x; rm -rf /", files={"a": b"b"})[0]])


def test_a_release_staged_by_one_target_is_switched_by_another(frontend: FrontendUnderTest) -> None:
    """As after ``deploy-all --stage``: a later process switches what an earlier one staged."""
    release = release_for("Orders", 1)[0]
    [result] = frontend.make(None).stage([release])
    assert isinstance(result, Staged)
    later = frontend.make(None)
    assert later.switch([Switch("Orders", release.release_id, release.config)]) == [None]
    later.flush()
    assert later.read_current(["Orders"]) == {"Orders": release.release_id}
    assert later.read_config(["Orders"]) == {"Orders": release.config}
    [again] = later.stage([release])  # clears the first target's unused temp files
    assert isinstance(again, Staged) and not again.created
    assert sorted(os.listdir(frontend.folder / "Orders")) == ["CURRENT", "config.json", "releases"]


@pytest.mark.parametrize("remember", [True, False], ids=["staged-here", "staged-elsewhere"])
def test_a_switch_that_fails_half_way_puts_the_old_config_back(frontend: FrontendUnderTest, remember: bool) -> None:
    target = frontend.make(None)
    go_live(target, 1)
    old_config = release_for("Orders", 1)[0].config
    new = release_for("Orders", 2)[0]
    [result] = target.stage([new])
    assert isinstance(result, Staged)
    switcher = target if remember else frontend.make(None)
    current = frontend.folder / "Orders" / "CURRENT"
    current.unlink()
    current.mkdir()  # CURRENT cannot be replaced now: the rename over it fails
    (current / "x").write_text("x")
    [error] = switcher.switch([Switch("Orders", new.release_id, new.config)])
    assert isinstance(error, FrontendError) and "Orders" in str(error)
    assert (frontend.folder / "Orders" / "config.json").read_bytes() == old_config


def test_release_sizes_are_measured_on_the_server_as_locally(target: FrontendTarget, tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    for version in (1, 2):
        go_live(target, version)
        _release, request, artifact = release_for("Orders", version)
        kit.deploy_release([local], request, artifact, keep=5)
    assert isinstance(target, SizedTarget)
    remote_sizes = target.release_sizes(["Orders", "Nothing"])
    local_sizes = LocalTarget("local", local).release_sizes(["Orders", "Nothing"])
    assert remote_sizes == local_sizes and len(remote_sizes["Orders"]) == 2
    assert all(size > 0 for size in remote_sizes["Orders"].values()) and remote_sizes["Nothing"] == {}


def test_the_ownership_stamp_is_written_read_back_and_creates_a_missing_folder(frontend: FrontendUnderTest) -> None:
    target = frontend.make(None)
    assert target.read_owner() is None
    target.write_owner(b'{"uid": "one"}\n')
    target.write_owner(b'{"uid": "two"}\n')
    assert target.read_owner() == b'{"uid": "two"}\n'
    assert (frontend.folder / OWNER_FILE).read_bytes() == b'{"uid": "two"}\n'
    fresh = frontend.make(frontend.folder / "new" / "farm")
    fresh.write_owner(b'{"uid": "three"}\n')
    assert (frontend.folder / "new" / "farm" / OWNER_FILE).read_bytes() == b'{"uid": "three"}\n'
    assert [name for name in os.listdir(frontend.folder) if ".tmp" in name] == []
