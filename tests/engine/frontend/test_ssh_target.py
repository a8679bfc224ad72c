"""SshTarget against a real sshd, in what is its own: a malformed location, the temp files it stages
for the switch, servers without perl or sha256sum, a chatty login shell, ProxyJump, and big files
sent by reference. What every target must do is in ``test_target_contract.py``."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from app.engine import blobs
from app.engine.errors import BadInputError
from app.engine.frontend.ssh.target import SshTarget
from app.engine.frontend.target import FrontendError, Prune, Staged, Switch
from tests.engine.frontend.conftest import MakeTarget, go_live, release_for, staged
from tests.sshd import ONE_WORKER, Farm, SshServer, basic_bin, start_or_skip

pytestmark = ONE_WORKER


def test_a_malformed_location_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="no path"):
        SshTarget("web", "ssh://srv1")


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


def test_a_batch_costs_the_same_few_scripts_and_syncs_whatever_its_size(target: SshTarget) -> None:
    """Stage is two scripts (read, then unpack, sync, rename, stamp, sync), switch one, flush one;
    a prune right after reads nothing again, and removes in one script when it has to."""
    costs = []
    for version, count in ((1, 5), (1, 60), (2, 60)):
        releases = [release_for(f"M{count}x{index:02d}", version)[0] for index in range(count)]
        before = target.stats()
        assert all(isinstance(r, Staged) for r in target.stage(releases))
        assert target.switch([Switch(r.module, r.release_id, r.config) for r in releases]) == [None] * count
        target.prune([Prune(r.module, frozenset({r.release_id}), keep=0) for r in releases])
        target.flush()
        cost = target.stats() - before
        costs.append((cost.connections, cost.sessions, cost.scripts, cost.syncs))
    assert costs == [(1, 1, 4, 3), (0, 0, 4, 3), (0, 0, 5, 3)]


def test_flushes_asked_together_share_one_sync(target: SshTarget) -> None:
    target.check()
    sent = target.stats().scripts
    busy = threading.Thread(target=target._session.shell, args=("sleep 2",))
    busy.start()  # the shell runs scripts in order: the flushes below wait behind this one together
    while target.stats().scripts == sent:
        time.sleep(0.01)
    before = target.stats().syncs
    flushing = [threading.Thread(target=target.flush) for _ in range(8)]
    for thread in flushing:
        thread.start()
    for thread in [busy, *flushing]:
        thread.join()
    assert target.stats().syncs - before == 1
