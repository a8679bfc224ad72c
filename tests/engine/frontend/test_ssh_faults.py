"""SshTarget when things go wrong: a server killed mid-batch, refused, frozen, with a changed or
unknown host key, a key it does not accept, a full or read-only remote disk. Each failure names
the front-end and what happened, and leaves no release half-written."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.engine.frontend.ssh import tar_stream
from app.engine.frontend.ssh.target import SshTarget
from app.engine.frontend.target import FrontendError, Staged, Switch
from tests.engine.frontend.conftest import FAST, MakeTarget, release_for
from tests.sshd import ONE_WORKER, Farm, SshServer, basic_bin, start_or_skip

pytestmark = ONE_WORKER

MODULES = ["Orders", "Billing", "Stock"]


def stage_failures(target: SshTarget, modules: list[str] = MODULES) -> list[str]:
    """Stage a release of each module; every one must fail: their messages."""
    results = target.stage([release_for(module)[0] for module in modules])
    assert all(isinstance(result, FrontendError) for result in results), results
    return [str(result) for result in results]


def nothing_written(folder: Path) -> bool:
    return not any(folder.iterdir())


def test_refused_connection_names_the_front_end(
    server: SshServer, remote_folder: Path, make_target: MakeTarget
) -> None:
    target = make_target(server.url(remote_folder))
    server.stop()
    messages = stage_failures(target)
    assert all(
        f"front-end ssh://srv1{remote_folder}: connection refused by 127.0.0.1 port {server.port}" in m
        for m in messages
    )
    with pytest.raises(FrontendError, match="connection refused"):
        target.read_current(["Orders"])


def test_a_changed_host_key_is_refused_and_nothing_is_written(
    ssh_farm: Farm, server: SshServer, remote_folder: Path, make_target: MakeTarget
) -> None:
    server.new_host_key()
    server.restart()  # known_hosts still holds the old key
    messages = stage_failures(make_target(server.url(remote_folder)))
    assert all("host key of 127.0.0.1 (port" in m and "has CHANGED" in m for m in messages)
    assert nothing_written(remote_folder)


def test_an_unknown_host_key_is_refused_and_nothing_is_written(
    ssh_farm: Farm, server: SshServer, remote_folder: Path, make_target: MakeTarget
) -> None:
    ssh_farm.write_client_files(trusted=[])
    target = make_target(server.url(remote_folder))
    messages = stage_failures(target)
    assert all("host key of 127.0.0.1" in m and "is unknown" in m for m in messages)
    with pytest.raises(FrontendError, match="is unknown"):
        target.check()
    assert nothing_written(remote_folder)


def test_known_hosts_none_in_the_configuration_does_not_turn_checking_off(
    ssh_farm: Farm, server: SshServer, remote_folder: Path, make_target: MakeTarget
) -> None:
    ssh_farm.config.write_text(
        ssh_farm.config.read_text().replace(
            f"UserKnownHostsFile {ssh_farm.known_hosts}", "UserKnownHostsFile none\n  StrictHostKeyChecking no"
        )
    )
    with pytest.raises(FrontendError, match="is unknown"):
        make_target(server.url(remote_folder)).check()
    assert nothing_written(remote_folder)


def test_a_key_the_server_does_not_accept_fails_authentication(
    server: SshServer, remote_folder: Path, make_target: MakeTarget
) -> None:
    (server.root / "authorized_keys").write_text("")
    with pytest.raises(FrontendError, match=r"authentication failed for .* at 127\.0\.0\.1 port \d+"):
        make_target(server.url(remote_folder)).check()


def test_the_ssh_configuration_must_exist_where_named(
    monkeypatch: pytest.MonkeyPatch, server: SshServer, remote_folder: Path, make_target: MakeTarget, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEPLOYCENTER_SSH_CONFIG", str(tmp_path / "nope"))
    with pytest.raises(FrontendError, match="nope named by DEPLOYCENTER_SSH_CONFIG does not exist"):
        make_target(server.url(remote_folder)).check()


def test_sshd_killed_mid_batch_leaves_no_release_and_the_next_stage_is_clean(
    server: SshServer, remote_folder: Path, make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    modules = [f"M{index:03d}" for index in range(60)]
    sent = 0
    real_member = tar_stream.tar_member

    def member_then_kill(name: str, data: bytes, mtime: int, mode: int = 0o644) -> bytes:
        nonlocal sent
        sent += 1
        if sent == 100:  # well inside the stream of about 240 members
            server.kill()
        return real_member(name, data, mtime, mode)

    monkeypatch.setattr(tar_stream, "tar_member", member_then_kill)
    target = make_target(server.url(remote_folder))
    results = target.stage([release_for(module)[0] for module in modules])
    assert all(isinstance(r, FrontendError) and f"ssh://srv1{remote_folder}" in str(r) for r in results), results
    assert any("connection was lost" in str(r) for r in results)
    for folder in remote_folder.iterdir():
        assert not (folder / "CURRENT").exists()
        assert all(entry.name.startswith(".staging-") for entry in (folder / "releases").iterdir())
    monkeypatch.setattr(tar_stream, "tar_member", real_member)
    server.start()  # same port, same host key
    again = target.stage([release_for(module)[0] for module in modules])  # the same target reconnects
    assert all(isinstance(result, Staged) for result in again)
    for module in modules:
        assert os.listdir(remote_folder / module / "releases") == [release_for(module)[0].release_id]


def test_a_hung_command_times_out_while_the_server_answers(
    ssh_farm: Farm, make_target: MakeTarget, tmp_path: Path
) -> None:
    """Keepalives are answered, but ``sync`` never returns: the command limit ends it."""
    tools = basic_bin(tmp_path / "bin")
    (tools / "sync").unlink()
    (tools / "sync").write_text("#!/bin/sh\nexec sleep 600\n")  # a disk that never finishes flushing
    (tools / "sync").chmod(0o755)
    (tools / "sleep").symlink_to(shutil.which("sleep") or "/bin/sleep")
    server = start_or_skip(ssh_farm, "slow", extra_config=[f"SetEnv PATH={tools}"])
    target = make_target(server.url(server.folder("front")), limits=replace(FAST, command_timeout=2))
    with pytest.raises(FrontendError, match=r"no progress for 2 s \(the server, or a command there, hangs\)"):
        target.flush()


def test_a_stage_script_that_dies_without_a_word_fails_the_batch_and_nothing_goes_live(
    ssh_farm: Farm, make_target: MakeTarget, tmp_path: Path
) -> None:
    """A shell killed half-way (out of memory, say) reports nothing: its exit status says it."""
    tools = basic_bin(tmp_path / "bin")
    real_tar = shutil.which("tar") or "/bin/tar"
    (tools / "tar").unlink()
    (tools / "tar").write_text(
        f'#!/bin/sh\ncase "$1" in -x*) {real_tar} "$@"; kill -9 $PPID; exit 1;; esac\nexec {real_tar} "$@"\n'
    )
    (tools / "tar").chmod(0o755)
    (tools / "kill").symlink_to(shutil.which("kill") or "/bin/kill")
    server = start_or_skip(ssh_farm, "dying", extra_config=[f"SetEnv PATH={tools}"])
    folder = server.folder("front")
    target = make_target(server.url(folder))
    messages = stage_failures(target)
    assert all(f"ssh://dying{folder}" in m and "(exit 137)" in m for m in messages), messages
    release = release_for("Orders")[0]
    assert target.switch([Switch("Orders", release.release_id, release.config)]) != [None]
    assert not (folder / "Orders" / "CURRENT").exists()
    assert not (folder / "Orders" / "releases" / release.release_id).exists()


def test_check_names_the_programs_the_server_lacks(ssh_farm: Farm, make_target: MakeTarget, tmp_path: Path) -> None:
    tools = basic_bin(tmp_path / "bin")
    (tools / "tar").unlink()
    server = start_or_skip(ssh_farm, "bare", extra_config=[f"SetEnv PATH={tools}"])
    with pytest.raises(FrontendError, match="the server lacks tar, which Deploy Center needs"):
        make_target(server.url(server.folder("front"))).check()


def test_a_frozen_server_fails_the_call_instead_of_hanging(
    server: SshServer, remote_folder: Path, make_target: MakeTarget
) -> None:
    target = make_target(server.url(remote_folder))
    target.check()  # connected
    with server.frozen():
        messages = stage_failures(target)
        assert all("stopped answering" in m or "no progress for" in m for m in messages), messages
        with pytest.raises(FrontendError, match=r"no answer from 127\.0\.0\.1 port \d+ within 5 s \(connect timeout\)"):
            make_target(server.url(remote_folder)).check()


def test_a_frozen_server_during_a_switch_fails_every_switch(
    server: SshServer, remote_folder: Path, make_target: MakeTarget
) -> None:
    target = make_target(server.url(remote_folder))
    [staged] = target.stage([release_for("Orders")[0]])
    assert isinstance(staged, Staged)
    with server.frozen():
        errors = target.switch([Switch("Orders", staged.release_id, b"{}\n")])
    assert isinstance(errors[0], FrontendError) and f"ssh://srv1{remote_folder}" in str(errors[0])
    assert not (remote_folder / "Orders" / "CURRENT").exists()


# ---------------------------------------------------------------- remote disks


@pytest.fixture
def small_disk(remote_folder: Path) -> Iterator[Path]:
    yield from _mounted(remote_folder, "size=2m")


@pytest.fixture
def read_only_disk(remote_folder: Path) -> Iterator[Path]:
    yield from _mounted(remote_folder, "size=2m,ro")


def _mounted(folder: Path, options: str) -> Iterator[Path]:
    """A tmpfs on the server's front-end folder; needs root. CI runs as root, so there it must work."""
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs: {done.stderr.strip() or done.returncode}"
        if os.environ.get("CI"):
            pytest.fail(f"the remote disk tests must run in CI (as root): {reason}", pytrace=False)
        pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_remote_disk_fails_the_batch_and_leaves_nothing(target: SshTarget, small_disk: Path) -> None:
    big = {f"blob{index}.bin": os.urandom(300_000) for index in range(3)}  # 900 KB a module
    releases = [release_for(module, files=big)[0] for module in MODULES]
    results = target.stage(releases)
    assert all(isinstance(r, FrontendError) and "remote disk full" in str(r) for r in results), results
    assert all(f"ssh://srv1{small_disk}" in str(r) for r in results)
    assert nothing_written(small_disk)
    [small] = target.stage([release_for("Orders")[0]])  # the space came back
    assert isinstance(small, Staged)


def test_a_read_only_remote_disk_is_reported(target: SshTarget, read_only_disk: Path) -> None:
    messages = stage_failures(target)
    assert all("permission denied while unpacking the releases" in m and "Read-only" in m for m in messages)


def test_the_jump_hosts_key_is_checked_as_strictly(ssh_farm: Farm, make_target: MakeTarget) -> None:
    """Even where the configuration turns checking off for the jump host, its key must be known."""
    jump = ssh_farm.add_server("jump")
    inner = ssh_farm.add_server("inner")
    ssh_farm.write_client_files(trusted=[inner])
    blocks = ssh_farm.config.read_text().split("\n\n")
    blocks = [
        block.replace(f"UserKnownHostsFile {ssh_farm.known_hosts}", "UserKnownHostsFile none")
        if block.startswith("Host jump")
        else block.replace("Host inner\n", "Host inner\n  ProxyJump jump\n")
        for block in blocks
    ]
    ssh_farm.config.write_text("\n\n".join(blocks))
    folder = inner.folder("front")
    unknown = rf"through the jump host jump: the host key of 127\.0\.0\.1 \(port {jump.port}\) is unknown"
    with pytest.raises(FrontendError, match=unknown):
        make_target(inner.url(folder)).check()
    assert "Accepted publickey" not in inner.log()
