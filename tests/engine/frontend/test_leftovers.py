"""Work files an interrupted call leaves, found and removed through the target interface.

The same checks run on a local folder and on an SSH server (the suite's own sshd): only names
made the way the deployer makes them count, nothing reached through a link is touched, and a
complete release (a staged one that is still wanted) stays.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.frontend.local.target import LocalTarget
from app.engine.frontend.target import FrontendTarget, Staged, Switch
from tests.engine.frontend.conftest import MakeTarget, release_for
from tests.sshd import ONE_WORKER, Farm, start_or_skip

pytestmark = ONE_WORKER  # its sshd servers' time limits want the CPU to themselves

TEMP_CURRENT = ".CURRENT.tmp-0123456789ab"
TEMP_CONFIG = ".config.json.tmp-ba9876543210"
STAGING = "releases/.staging-v2-11.19.0-1a2b3c4d5e6f-4242-deadbeef"
OURS = sorted([TEMP_CURRENT, TEMP_CONFIG, STAGING])
# Names close to the deployer's that it never makes, or entries it would not have made there.
LOOKALIKES = [
    ".CURRENT.tmp-short",
    ".CURRENT.tmp-0123456789abc",
    ".config.json.tmp-GGGGGGGGGGGG",
    "releases/.staging-by-hand",
    "releases/.staging-v2-1-notahex8",
    "releases/.staging-v2-1a-deadbeef",
    "releases/.staging-v 2-1-deadbeef",
    "notes.txt",
]

Made = tuple[FrontendTarget, Path]


@pytest.fixture(params=["local", "ssh"])
def made(request: pytest.FixtureRequest, tmp_path: Path) -> Made:
    """A target and the folder behind it, read and written directly by the test."""
    if request.param == "local":
        folder = tmp_path / "front"
        folder.mkdir()
        return LocalTarget("web", folder), folder
    ssh_farm: Farm = request.getfixturevalue("ssh_farm")
    make_target: MakeTarget = request.getfixturevalue("make_target")
    server = start_or_skip(ssh_farm)
    folder = server.folder("front")
    return make_target(server.url(folder)), folder


def go_live(target: FrontendTarget, module: str, version: int = 1) -> str:
    release = release_for(module, version)[0]
    [staged] = target.stage([release])
    assert isinstance(staged, Staged), staged
    assert target.switch([Switch(module, release.release_id, release.config)]) == [None]
    target.flush()
    return release.release_id


def leave(folder: Path, module: str, names: list[str]) -> None:
    """Put work files (or folders, for staging names) into a module folder as a killed call would."""
    for name in names:
        path = folder / module / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.startswith("releases/"):
            (path / "src").mkdir(parents=True)
            (path / "src" / "half.py").write_text("half")
        else:
            path.write_text("v9\n")


def entries(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*")}


def test_only_the_deployers_own_work_names_are_leftovers(made: Made) -> None:
    target, folder = made
    live = go_live(target, "Orders")
    leave(folder, "Orders", OURS + LOOKALIKES)
    leave(folder, "Billing", [TEMP_CURRENT])
    assert target.list_leftovers(["Orders", "Billing", "Absent"]) == {"Orders": OURS, "Billing": [TEMP_CURRENT]}

    before = entries(folder)
    removed = target.remove_leftovers(["Orders", "Billing"])
    assert {module: sorted(paths) for module, paths in removed.items()} == {"Orders": OURS, "Billing": [TEMP_CURRENT]}
    gone = before - entries(folder)
    assert all(path.startswith(("Orders/", "Billing/")) for path in gone)
    assert {path.split("/", 1)[1] for path in gone if "/src" not in path} == set(OURS)
    for name in LOOKALIKES:
        assert (folder / "Orders" / name).exists(), name
    assert (folder / "Orders" / "releases" / live / ".release.json").is_file()
    assert target.list_leftovers(["Orders", "Billing"]) == {}


def test_links_are_never_followed(made: Made, tmp_path: Path) -> None:
    target, folder = made
    elsewhere = tmp_path / "elsewhere"
    leave(elsewhere, "Orders", OURS)
    (folder / "Orders").symlink_to(elsewhere / "Orders")  # a module folder that is a link
    (folder / "Billing" / "releases").mkdir(parents=True)
    (folder / "Billing" / TEMP_CURRENT).symlink_to(elsewhere / "Orders" / TEMP_CURRENT)
    (folder / "Billing" / STAGING).symlink_to(elsewhere / "Orders" / STAGING)
    assert target.list_leftovers(["Orders", "Billing"]) == {}
    assert target.remove_leftovers(["Orders", "Billing"]) == {}
    assert entries(elsewhere / "Orders") >= set(OURS)


def test_a_staged_release_stays_and_what_stage_prepared_for_its_switch_goes(made: Made) -> None:
    target, folder = made
    go_live(target, "Orders", 1)
    release = release_for("Orders", 2)[0]
    [staged] = target.stage([release])
    assert isinstance(staged, Staged)
    prepared = target.list_leftovers(["Orders"])["Orders"]  # the next CURRENT and config.json
    assert sorted(name.split(".tmp-")[0] for name in prepared) == [".CURRENT", ".config.json"]
    assert target.remove_leftovers(["Orders"]) == {"Orders": prepared}
    assert (folder / "Orders" / "releases" / release.release_id / ".release.json").is_file()
    # A later switch of that staged release writes its own next CURRENT.
    assert target.switch([Switch("Orders", release.release_id, release.config)]) == [None]
    assert (folder / "Orders" / "CURRENT").read_text().strip() == release.release_id
    assert target.list_leftovers(["Orders"]) == {}


def test_discarding_a_release_that_failed_elsewhere_leaves_nothing(made: Made) -> None:
    target, folder = made
    live = go_live(target, "Orders", 1)
    [staged] = target.stage([release_for("Orders", 2)[0]])
    assert isinstance(staged, Staged)
    target.discard([staged])
    assert target.list_leftovers(["Orders"]) == {}
    assert sorted(path.name for path in (folder / "Orders" / "releases").iterdir()) == [live]


def test_a_switch_that_fails_leaves_no_work_file(made: Made) -> None:
    target, folder = made
    go_live(target, "Orders", 1)
    release = release_for("Orders", 2)[0]
    [staged] = target.stage([release])
    assert isinstance(staged, Staged)
    current = folder / "Orders" / "CURRENT"
    current.unlink()
    current.mkdir()  # someone put a folder where CURRENT must be replaced
    [problem] = target.switch([Switch("Orders", release.release_id, release.config)])
    assert problem is not None
    assert target.list_leftovers(["Orders"]) == {}
