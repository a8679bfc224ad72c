"""SshTarget against a real sshd: every method of the front-end target interface, and a remote
folder that ends up exactly as the local deployer leaves a local one."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from app.engine import blobs
from app.engine.errors import BadInputError
from app.engine.frontend.local.target import LocalTarget
from app.engine.frontend.ssh.target import SshTarget
from app.engine.frontend.target import FrontendError, Prune, Staged, Switch
from tests.engine.frontend import kit
from tests.engine.frontend.conftest import MakeTarget, release_for
from tests.sshd import ONE_WORKER, Farm, SshServer, basic_bin, start_or_skip

pytestmark = ONE_WORKER


def tree(root: Path, skip_modes: frozenset[str] = frozenset()) -> dict[str, tuple[str, bytes | None, int | None]]:
    """Every entry under ``root``: kind, content for files, and permission bits."""
    found: dict[str, tuple[str, bytes | None, int | None]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        info = path.lstat()
        mode = None if path.name in skip_modes else stat.S_IMODE(info.st_mode)
        if stat.S_ISDIR(info.st_mode):
            found[relative] = ("dir", None, mode)
        else:
            found[relative] = ("file", path.read_bytes(), mode)
    return found


def staged(target: SshTarget, *modules: str, version: int = 1) -> list[Staged]:
    results = target.stage([release_for(module, version)[0] for module in modules])
    for result in results:
        assert isinstance(result, Staged), result
    return [result for result in results if isinstance(result, Staged)]


def go_live(target: SshTarget, version: int = 1, module: str = "Orders") -> Staged:
    release = release_for(module, version)[0]
    [result] = target.stage([release])
    assert isinstance(result, Staged), result
    assert target.switch([Switch(module, release.release_id, release.config)]) == [None]
    target.flush()
    return result


def test_check_passes_on_a_folder_and_names_a_missing_one(
    server: SshServer, remote_folder: Path, make_target: MakeTarget
) -> None:
    make_target(server.url(remote_folder)).check()
    missing = make_target(server.url(remote_folder / "nowhere"))
    with pytest.raises(FrontendError, match=r"front-end ssh://srv1/.*/nowhere: folder does not exist"):
        missing.check()


def test_a_malformed_location_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="no path"):
        SshTarget("web", "ssh://srv1")


def test_the_remote_layout_is_byte_for_byte_the_local_deployers(
    target: SshTarget, remote_folder: Path, tmp_path: Path
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
    # config.json aside: the remote one is written 0600 as the contract's section 9 asks.
    assert tree(remote_folder, frozenset({"config.json"})) == tree(local, frozenset({"config.json"}))
    assert stat.S_IMODE((remote_folder / "Orders" / "config.json").stat().st_mode) == 0o600
    live = (local / "Orders" / "CURRENT").read_text().strip()
    assert (remote_folder / "Orders" / "releases" / live / ".release.json").read_bytes() == (
        local / "Orders" / "releases" / live / ".release.json"
    ).read_bytes()


def test_a_staged_release_is_complete_but_not_live(target: SshTarget, remote_folder: Path) -> None:
    [result] = staged(target, "Orders")
    assert result.previous_release is None and result.previous_config is None
    module = remote_folder / "Orders"
    assert not (module / "CURRENT").exists() and not (module / "config.json").exists()
    assert sorted(os.listdir(module / "releases")) == [result.release_id]
    assert target.read_current(["Orders"]) == {"Orders": None}


def test_stage_reports_what_was_live_for_switching_back(target: SshTarget) -> None:
    first = go_live(target, 1)
    [second] = staged(target, "Orders", version=2)
    assert second.previous_release == first.release_id
    assert second.previous_config == release_for("Orders", 1)[0].config


def test_switch_and_switch_back(target: SshTarget, remote_folder: Path) -> None:
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
    leftovers = [name for name in os.listdir(remote_folder / "Orders") if ".tmp-" in name]
    assert leftovers == []


def test_switching_to_nothing_removes_current_and_config(target: SshTarget, remote_folder: Path) -> None:
    go_live(target, 1)
    assert target.switch([Switch("Orders", None, None)]) == [None]
    assert not (remote_folder / "Orders" / "CURRENT").exists()
    assert target.read_config(["Orders"]) == {"Orders": None}


def test_a_switch_without_a_module_folder_fails_alone(target: SshTarget) -> None:
    go_live(target, 1)
    release = release_for("Orders", 1)[0]
    errors = target.switch(
        [Switch("Ghost", release.release_id, b"{}\n"), Switch("Orders", release.release_id, b"{}\n")]
    )
    assert isinstance(errors[0], FrontendError) and "Ghost" in str(errors[0])
    assert errors[1] is None
    assert target.read_config(["Orders", "Ghost"]) == {"Orders": b"{}\n", "Ghost": None}


def test_an_identical_release_is_reused_not_written_again(target: SshTarget, remote_folder: Path) -> None:
    [first] = staged(target, "Orders")
    folder = remote_folder / "Orders" / "releases" / first.release_id
    inode = (folder / "src" / "app.py").stat().st_ino
    [again] = staged(target, "Orders")
    assert again.created is False and again.release_id == first.release_id
    assert (folder / "src" / "app.py").stat().st_ino == inode


def test_a_different_artifact_under_the_same_release_id_is_refused(target: SshTarget) -> None:
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
    target: SshTarget, remote_folder: Path, make_foreign: Callable[[Path], object], says: str
) -> None:
    module = remote_folder / "Orders"
    module.mkdir()
    make_foreign(module)
    before = tree(module) if not (module / "releases").is_symlink() else None
    orders, other = target.stage([release_for("Orders")[0], release_for("Billing")[0]])
    assert isinstance(orders, FrontendError)
    assert says in str(orders) and f"ssh://srv1{remote_folder}" in str(orders)
    assert isinstance(other, Staged)
    if before is not None:
        assert tree(module) == before


def test_a_release_folder_that_is_not_ours_is_refused(target: SshTarget, remote_folder: Path) -> None:
    release = release_for("Orders")[0]
    squatter = remote_folder / "Orders" / "releases" / release.release_id
    squatter.mkdir(parents=True)
    (squatter / "index.html").write_text("someone else's")
    [result] = target.stage([release])
    assert isinstance(result, FrontendError) and "exists but was not created by Deploy Center" in str(result)
    assert os.listdir(squatter) == ["index.html"]


def test_a_module_folder_that_is_a_file_or_a_link_is_refused(target: SshTarget, remote_folder: Path) -> None:
    (remote_folder / "Orders").write_text("x")
    (remote_folder / "Billing").symlink_to("/tmp")
    orders, billing = target.stage([release_for("Orders")[0], release_for("Billing")[0]])
    assert isinstance(orders, FrontendError) and "Orders is a file" in str(orders)
    assert isinstance(billing, FrontendError) and "Billing is a symbolic link" in str(billing)
    assert (remote_folder / "Orders").read_text() == "x"


def test_stage_clears_its_own_leftovers(target: SshTarget, remote_folder: Path) -> None:
    releases = remote_folder / "Orders" / "releases"
    (releases / ".staging-v9-x-1-abcd").mkdir(parents=True)
    (releases / ".staging-v9-x-1-abcd" / "half.py").write_text("half")
    (remote_folder / "Orders" / ".CURRENT.tmp-0123456789ab").write_text("v9\n")
    [result] = staged(target, "Orders")
    assert sorted(os.listdir(releases)) == [result.release_id]
    entries = sorted(os.listdir(remote_folder / "Orders"))
    assert ".CURRENT.tmp-0123456789ab" not in entries
    # What is left: releases, and the next CURRENT and config.json under temp names, for switch.
    assert [name.split(".tmp-")[0] for name in entries] == [".CURRENT", ".config.json", "releases"]


def test_current_naming_no_complete_release_fails_the_module(target: SshTarget, remote_folder: Path) -> None:
    (remote_folder / "Orders" / "releases").mkdir(parents=True)
    (remote_folder / "Orders" / "CURRENT").write_text("v7-gone\n")
    [result] = target.stage([release_for("Orders")[0]])
    assert isinstance(result, FrontendError) and "names 'v7-gone', which is not a complete release" in str(result)


def test_discard_removes_only_created_releases_that_are_not_live(target: SshTarget, remote_folder: Path) -> None:
    live = go_live(target, 1)
    [fresh] = staged(target, "Orders", version=2)
    live_again = Staged("Orders", live.release_id, None, None, created=True)  # claims too much: it is live
    target.discard([fresh, live_again])
    assert sorted(os.listdir(remote_folder / "Orders" / "releases")) == [live.release_id]


def test_list_releases_is_oldest_first_and_prune_keeps_what_it_must(target: SshTarget, remote_folder: Path) -> None:
    ids = [go_live(target, version).release_id for version in (1, 2, 3, 4, 5)]
    listed = target.list_releases(["Orders", "Nobody"])
    assert [meta.release_id for meta in listed["Orders"]] == ids
    assert [meta.version for meta in listed["Orders"]] == [1, 2, 3, 4, 5]
    assert listed["Nobody"] == []
    orders = [meta.order for meta in listed["Orders"]]
    assert orders == sorted(orders) and len(set(orders)) == 5
    (remote_folder / "Orders" / "releases" / "handmade").mkdir()  # not ours: no .release.json
    target.prune([Prune("Orders", protect=frozenset({ids[4], ids[0]}), keep=1)])
    assert sorted(os.listdir(remote_folder / "Orders" / "releases")) == sorted([ids[0], ids[3], ids[4], "handmade"])


def test_reusing_a_release_makes_it_the_newest(target: SshTarget) -> None:
    first = go_live(target, 1).release_id
    go_live(target, 2)
    go_live(target, 1)  # back to 1: found, reused, stamped newest
    listed = [meta.release_id for meta in target.list_releases(["Orders"])["Orders"]]
    assert listed[-1] == first


def test_remove_deletes_what_deploy_center_made_and_nothing_else(target: SshTarget, remote_folder: Path) -> None:
    go_live(target, 1)
    go_live(target, 2)
    go_live(target, 1, module="Billing")
    (remote_folder / "Orders" / "releases" / "handmade").mkdir()
    (remote_folder / "Orders" / "README").write_text("keep me")
    target.remove(["Orders", "Billing", "Absent"])
    assert sorted(tree(remote_folder / "Orders")) == ["README", "releases", "releases/handmade"]
    assert (remote_folder / "Orders" / "README").read_text() == "keep me"
    assert not (remote_folder / "Billing").exists()


def test_list_modules_names_module_folders(target: SshTarget, remote_folder: Path) -> None:
    staged(target, "Orders", "Billing")
    (remote_folder / "not a module").mkdir()
    (remote_folder / "stray.txt").write_text("x")
    assert target.list_modules() == ["Billing", "Orders"]


def test_read_live_hashes_files_on_the_server(target: SshTarget, remote_folder: Path) -> None:
    release = release_for("Orders", 1)[0]
    go_live(target, 1)
    staged(target, "Billing")
    [orders, billing] = target.read_live(["Orders", "Billing"])
    expected = {name: hashlib.sha256(blobs.read_all(data)).hexdigest() for name, data in release.files.items()}
    assert orders.release_id == release.release_id
    assert dict(orders.hashes) == expected
    assert orders.info is not None and orders.info["files"] == expected
    assert billing.release_id is None and billing.info is None and dict(billing.hashes) == {}
    folder = remote_folder / "Orders" / "releases" / release.release_id
    (folder / "src" / "app.py").write_text("tampered")
    (folder / "src" / "link").symlink_to("app.py")
    [orders] = target.read_live(["Orders"])
    assert orders.hashes["src/app.py"] == hashlib.sha256(b"tampered").hexdigest()
    assert orders.hashes["src/link"] is None


def test_write_config_replaces_and_removes(target: SshTarget, remote_folder: Path) -> None:
    go_live(target, 1)
    target.write_config([("Orders", b'{"MaxRows": "7"}\n')])
    assert (remote_folder / "Orders" / "config.json").read_bytes() == b'{"MaxRows": "7"}\n'
    target.write_config([("Orders", None)])
    assert target.read_config(["Orders"]) == {"Orders": None}
    assert target.read_current(["Orders"]) == {"Orders": release_for("Orders", 1)[0].release_id}


def test_a_batch_larger_than_one_script_is_split_and_complete(target: SshTarget, remote_folder: Path) -> None:
    modules = [f"M{index:04d}" for index in range(620)]
    results = target.stage([release_for(module)[0] for module in modules])
    assert all(isinstance(result, Staged) for result in results)
    switches = [Switch(m, release_for(m)[0].release_id, b"{}\n") for m in modules]
    assert target.switch(switches) == [None] * len(modules)
    target.flush()
    current = target.read_current(modules)
    assert all(current[m] == release_for(m)[0].release_id for m in modules)
    assert sorted(target.list_modules()) == modules


def test_bad_module_names_never_reach_the_server(target: SshTarget) -> None:
    with pytest.raises(ValueError, match="not a valid module name"):
        target.read_current(["../etc"])
    with pytest.raises(ValueError, match="not a valid module name"):
        target.stage([release_for("x; rm -rf /", files={"a": b"b"})[0]])


def test_a_release_staged_by_one_target_is_switched_by_another(
    server: SshServer, remote_folder: Path, make_target: MakeTarget
) -> None:
    """As after ``deploy-all --stage``: a later process switches what an earlier one staged."""
    release = release_for("Orders", 1)[0]
    [result] = make_target(server.url(remote_folder)).stage([release])
    assert isinstance(result, Staged)
    later = make_target(server.url(remote_folder))
    assert later.switch([Switch("Orders", release.release_id, release.config)]) == [None]
    later.flush()
    assert later.read_current(["Orders"]) == {"Orders": release.release_id}
    assert later.read_config(["Orders"]) == {"Orders": release.config}
    [again] = later.stage([release])  # clears the first target's unused temp files
    assert isinstance(again, Staged) and not again.created
    assert sorted(os.listdir(remote_folder / "Orders")) == ["CURRENT", "config.json", "releases"]


@pytest.mark.parametrize("remember", [True, False], ids=["staged-here", "staged-elsewhere"])
def test_a_switch_that_fails_half_way_puts_the_old_config_back(
    server: SshServer, remote_folder: Path, make_target: MakeTarget, remember: bool
) -> None:
    target = make_target(server.url(remote_folder))
    go_live(target, 1)
    old_config = release_for("Orders", 1)[0].config
    new = release_for("Orders", 2)[0]
    [result] = target.stage([new])
    assert isinstance(result, Staged)
    switcher = target if remember else make_target(server.url(remote_folder))
    current = remote_folder / "Orders" / "CURRENT"
    current.unlink()
    current.mkdir()  # CURRENT cannot be replaced now: the rename over it fails
    (current / "x").write_text("x")
    [error] = switcher.switch([Switch("Orders", new.release_id, new.config)])
    assert isinstance(error, FrontendError) and "switching" in str(error)
    assert (remote_folder / "Orders" / "config.json").read_bytes() == old_config


def test_a_host_reached_through_proxy_jump(ssh_farm: Farm, make_target: MakeTarget) -> None:
    """The configuration's ProxyJump is followed: "inner" is reached through "jump"."""
    jump = ssh_farm.add_server("jump")
    inner = ssh_farm.add_server("inner")
    config = ssh_farm.config.read_text().replace("Host inner\n", "Host inner\n  ProxyJump jump\n")
    ssh_farm.config.write_text(config)
    folder = inner.folder("front")
    target = make_target(inner.url(folder))
    go_live(target, 1)
    assert (folder / "Orders" / "CURRENT").read_text() == release_for("Orders", 1)[0].release_id + "\n"
    assert "Accepted publickey" in jump.log()  # the connection went through the jump host


def test_a_server_without_perl_gets_the_same_result(ssh_farm: Farm, make_target: MakeTarget, tmp_path: Path) -> None:
    """Renames fall back to mv, one process each: slower, same layout, same refusals."""
    tools = basic_bin(tmp_path / "bin")
    server = start_or_skip(ssh_farm, "bare", extra_config=[f"SetEnv PATH={tools}"])
    folder = server.folder("front")
    target = make_target(server.url(folder))
    assert b"perl" not in target._session.shell("command -v perl || echo none").stdout
    first = go_live(target, 1)
    second = go_live(target, 2)
    assert second.previous_release == first.release_id
    back = Switch("Orders", second.previous_release, second.previous_config)
    assert target.switch([back]) == [None]
    assert target.read_current(["Orders"]) == {"Orders": first.release_id}
    go_live(target, 3)
    target.prune([Prune("Orders", protect=frozenset(), keep=0)])
    assert os.listdir(folder / "Orders" / "releases") == [release_for("Orders", 3)[0].release_id]
    current = folder / "Orders" / "CURRENT"
    current.unlink()
    current.mkdir()
    (current / "x").write_text("x")
    new = release_for("Orders", 4)[0]
    [staged_new] = target.stage([new])
    assert isinstance(staged_new, FrontendError)  # CURRENT is a folder now: refused before anything
    current.joinpath("x").unlink()
    current.rmdir()
    target.remove(["Orders"])
    assert not (folder / "Orders").exists()


def test_a_login_shell_that_talks_does_not_confuse_the_replies(
    ssh_farm: Farm, make_target: MakeTarget, tmp_path: Path
) -> None:
    """Whatever the account's shell start-up prints comes before our output and is skipped."""
    chatty = tmp_path / "chatty.sh"  # a greeting, then the command, as some login scripts do
    chatty.write_text(
        '#!/bin/sh\necho "Welcome to the web farm"\necho "K Orders v9-forged"\necho =tar\n'
        'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
    )
    chatty.chmod(0o755)
    server = start_or_skip(ssh_farm, "chatty", extra_config=[f"ForceCommand {chatty}"])
    folder = server.folder("front")
    target = make_target(server.url(folder))
    first = go_live(target, 1)
    assert target.read_current(["Orders"]) == {"Orders": first.release_id}
    assert target.read_config(["Orders"]) == {"Orders": release_for("Orders", 1)[0].config}
    assert [meta.release_id for meta in target.list_releases(["Orders"])["Orders"]] == [first.release_id]


@pytest.mark.parametrize("hasher", ["shasum", "openssl"])
def test_read_live_hashes_without_sha256sum(
    ssh_farm: Farm, make_target: MakeTarget, tmp_path: Path, hasher: str
) -> None:
    tools = basic_bin(tmp_path / "bin")
    (tools / "sha256sum").unlink()
    found = shutil.which(hasher)
    if found is None:
        pytest.skip(f"{hasher} is not installed here")
    (tools / hasher).symlink_to(found)
    if hasher == "shasum":
        (tools / "perl").symlink_to(shutil.which("perl") or "/usr/bin/perl")  # shasum is a perl script
    server = start_or_skip(ssh_farm, "nosum", extra_config=[f"SetEnv PATH={tools}"])
    target = make_target(server.url(server.folder("front")))
    release = release_for("Orders", 1)[0]
    go_live(target, 1)
    [orders] = target.read_live(["Orders"])
    assert dict(orders.hashes) == {
        name: hashlib.sha256(blobs.read_all(data)).hexdigest() for name, data in release.files.items()
    }


def test_a_switch_whose_staged_temp_files_went_missing_writes_them_again(
    target: SshTarget, remote_folder: Path
) -> None:
    release = release_for("Orders", 1)[0]
    staged(target, "Orders")
    for temp in (remote_folder / "Orders").glob(".*.tmp-*"):
        temp.unlink()
    assert target.switch([Switch("Orders", release.release_id, release.config)]) == [None]
    assert target.read_current(["Orders"]) == {"Orders": release.release_id}
    assert target.read_config(["Orders"]) == {"Orders": release.config}


def test_release_sizes_are_measured_on_the_server_as_locally(target: SshTarget, tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    for version in (1, 2):
        go_live(target, version)
        _release, request, artifact = release_for("Orders", version)
        kit.deploy_release([local], request, artifact, keep=5)
    remote_sizes = target.release_sizes(["Orders", "Nothing"])
    local_sizes = LocalTarget("local", local).release_sizes(["Orders", "Nothing"])
    assert remote_sizes == local_sizes and len(remote_sizes["Orders"]) == 2
    assert all(size > 0 for size in remote_sizes["Orders"].values()) and remote_sizes["Nothing"] == {}


def test_a_big_file_goes_to_the_remote_by_reference_in_chunks(
    target: SshTarget, remote_folder: Path, tmp_path: Path
) -> None:
    content = hashlib.shake_256(b"big").digest(3 * blobs.CHUNK + 777)  # several chunks, not a multiple
    source = tmp_path / "artifact-member.bin"
    source.write_bytes(b"header" + content + b"trailer")
    release = release_for("Media", 1)[0]
    by_reference = dataclasses.replace(
        release, files={**release.files, "assets/video.bin": blobs.FileSlice(str(source), 6, len(content))}
    )

    [result] = target.stage([by_reference])
    assert isinstance(result, Staged), result
    assert (remote_folder / "Media" / "releases" / release.release_id / "assets" / "video.bin").read_bytes() == content


def test_the_test_servers_skip_the_accounts_shell_start_up_files(ssh_farm: Farm, server: SshServer) -> None:
    # Root's start-up files here run `pyenv rehash`, which waits a minute on a lock that a server
    # killed mid-login leaves behind; every command of every later test then ran into its limit.
    done = subprocess.run(
        ["ssh", "-F", str(ssh_farm.config), "-o", "BatchMode=yes", server.alias, 'echo "$HOME"'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout.strip()) == (0, str(server.root / "home")), done.stderr
