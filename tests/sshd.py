"""Real OpenSSH servers for the tests: one ``sshd`` per simulated front-end server, on 127.0.0.1.

Each server gets a temporary folder with its own host key, ``sshd_config`` (public keys only, no
PAM, no passwords, only the current user, ``StrictModes no``, pid file inside) and the folders its
front-ends live in. The client side is a ``Farm``: one client key, one ``known_hosts`` file and one
client configuration with a ``Host`` alias per server, named through ``DEPLOYCENTER_SSH_CONFIG``.

The servers come from Debian's ``openssh-server`` (``/usr/sbin/sshd``, or the program named by
``DEPLOYCENTER_TEST_SSHD``). When it is missing, the package is installed if apt can (we are
root); when that fails too, the SSH tests are skipped, except in CI (``CI`` set), where they fail
so that a broken image is noticed. Servers are stopped and their folders deleted afterwards.
"""

from __future__ import annotations

import getpass
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.latency_relay import LatencyRelay
from tests.processes import children_of

SSHD_ENV = "DEPLOYCENTER_TEST_SSHD"
# The tests that start servers run one after another on one worker of a parallel run: their time
# limits (seconds) assume servers that get the CPU when they need it, which several farms of
# sshd, asyncssh and deploys fighting over two cores do not give.
ONE_WORKER = pytest.mark.xdist_group("sshd")
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
_started_install = False


def unavailable(reason: str) -> NoReturn:
    """Skip an SSH test on a developer machine; fail it in CI, where it must run."""
    if os.environ.get("CI"):
        pytest.fail(f"SSH tests must run in CI: {reason}", pytrace=False)
    pytest.skip(f"SSH tests skipped: {reason} (install Debian's openssh-server and openssh-client)")


def sshd_program() -> Path:
    """The sshd to run, installing openssh-server once if it is missing and apt is usable."""
    global _started_install
    named = os.environ.get(SSHD_ENV)
    program = Path(named) if named else Path("/usr/sbin/sshd")
    if not program.is_file() and not named and not _started_install and shutil.which("apt-get"):
        _started_install = True
        _apt_install("openssh-server", "openssh-client")
    if not program.is_file():
        unavailable(f"{program} is missing")
    if shutil.which("ssh-keygen") is None:
        unavailable("ssh-keygen is missing")
    return program


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        if subprocess.run(command, check=False, env=env, capture_output=True, timeout=600).returncode != 0:
            return


def keygen(path: Path, comment: str) -> str:
    """A new ed25519 key pair at ``path`` (no passphrase); returns the public key line."""
    path.unlink(missing_ok=True)
    Path(f"{path}.pub").unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return Path(f"{path}.pub").read_text().strip()


# What a server without perl still has: the tools a remote front-end is expected to have (rules.md#farms), no more.
BASIC_TOOLS = (
    "sh",
    "tar",
    "sync",
    "stat",
    "touch",
    "find",
    "rm",
    "rmdir",
    "mv",
    "head",
    "dd",
    "cat",
    "sha256sum",
    "mkdir",
    "ls",
    "env",
    "dirname",
    "basename",
    "readlink",
    "uname",
    "id",
)


def basic_bin(folder: Path) -> Path:
    """A folder of links to BASIC_TOOLS, for a PATH without perl."""
    folder.mkdir(parents=True, exist_ok=True)
    for tool in BASIC_TOOLS:
        found = shutil.which(tool)
        if found:
            (folder / tool).symlink_to(found)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SshServer:
    """One sshd on 127.0.0.1 with its own host key; ``root`` holds its files and front-ends."""

    alias: str  # the Host alias the farm's client configuration gives it
    root: Path
    program: Path
    authorized_key: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    host_key_line: str = ""
    _log: list[str] = field(default_factory=list)
    _reader: Any = None  # the thread that reads sshd's log
    extra_config: list[str] = field(default_factory=list)  # more sshd_config lines

    @property
    def host_key(self) -> Path:
        return self.root / "host_ed25519"

    def folder(self, name: str) -> Path:
        """A folder on this server for a front-end (created)."""
        path = self.root / "srv" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def url(self, folder: Path) -> str:
        return f"ssh://{self.alias}{folder}"

    def prepare(self) -> None:
        (self.root / "home").mkdir(exist_ok=True)
        self.host_key_line = keygen(self.host_key, self.alias)
        (self.root / "authorized_keys").write_text(self.authorized_key + "\n")

    def new_host_key(self) -> None:
        """Give the server a different host key (takes effect at the next start)."""
        self.host_key_line = keygen(self.host_key, self.alias)

    def _write_config(self) -> Path:
        config = self.root / "sshd_config"
        extra_env = [word for line in self.extra_config if line.startswith("SetEnv ") for word in line.split()[1:]]
        others = [line for line in self.extra_config if not line.startswith("SetEnv ")]
        sftp = SFTP_SERVER if Path(SFTP_SERVER).is_file() else "internal-sftp"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.root / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
                    "UsePAM no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    f"AllowUsers {getpass.getuser()}",
                    "AllowTcpForwarding local",  # for ProxyJump through this server
                    "X11Forwarding no",
                    "PrintMotd no",
                    "MaxSessions 50",
                    "MaxStartups 50",
                    "LogLevel VERBOSE",
                    f"Subsystem sftp {sftp}",
                    # The account's shell start-up files are the machine's, not the test's: here
                    # root's runs `pyenv rehash`, which waits a minute on a lock that a server
                    # killed mid-login can leave behind. An empty home of the server's own skips them.
                    # sshd takes only the first SetEnv line, so a test's own variables join this one.
                    " ".join(["SetEnv", f"HOME={self.root / 'home'}", *extra_env]),
                    *others,
                    "",
                ]
            )
        )
        return config

    def start(self) -> None:
        """Start sshd in the foreground and return once it listens; a taken port is retried."""
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        problem = ""
        for _attempt in range(5):
            if not self.port:
                self.port = free_port()
            config = self._write_config()
            process = subprocess.Popen(
                [str(self.program), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            problem = self._wait_listening(process)
            if not problem:
                self.process = process
                self._check_loopback_only()
                return
            process.kill()
            process.wait()
            self.port = 0
        raise RuntimeError(f"sshd did not start: {problem}")

    def _check_loopback_only(self) -> None:
        """Refuse to go on if this port listens anywhere but 127.0.0.1."""
        hex_port = f"{self.port:04X}"
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                local, state = line.split()[1], line.split()[3]
                address, _, port = local.rpartition(":")
                if port == hex_port and state == "0A" and address != "0100007F":  # 0A: listening
                    self.kill()
                    raise RuntimeError(f"sshd listens on {address}:{self.port}, not only on 127.0.0.1")

    def _wait_listening(self, process: subprocess.Popen[bytes]) -> str:
        """Read sshd's log until it says it listens; '' then, else what it said instead."""
        assert process.stderr is not None
        deadline = time.monotonic() + 30
        pending = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([process.stderr], [], [], deadline - time.monotonic())
            if not ready:
                break
            chunk = os.read(process.stderr.fileno(), 4096)
            if not chunk:
                break
            pending += chunk
            *lines, pending_text = pending.decode(errors="replace").split("\n")
            pending = pending_text.encode()
            self._log.extend(lines)
            if any("Server listening on" in line for line in lines):
                self._drain_log(process)
                return ""
        return " | ".join(self._log[-5:]) or "no output"

    def _drain_log(self, process: subprocess.Popen[bytes]) -> None:
        """Keep reading sshd's log so that it never blocks on a full pipe."""
        stream = process.stderr
        assert stream is not None

        def read() -> None:
            for line in stream:
                self._log.append(line.decode(errors="replace").rstrip())

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    def log(self) -> str:
        return "\n".join(self._log)

    def _tree(self) -> set[int]:
        """The listener and every process it started (one per connection, and their commands)."""
        if self.process is None:
            return set()
        found, todo = set(), [self.process.pid]
        while todo:
            pid = todo.pop()
            found.add(pid)
            todo.extend(children_of(pid) - found)
        return found

    def signal_all(self, number: int) -> None:
        for pid in self._tree():
            try:
                os.kill(pid, number)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """Kill the listener and every connection of this server at once, as a crash would."""
        self.signal_all(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)
            if self._reader is not None:
                self._reader.join(timeout=30)  # the log ends with the processes that write it
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Stop this server and its connections (SIGSTOP) for the block; kill them after."""
        self.signal_all(signal.SIGSTOP)
        try:
            yield
        finally:
            self.signal_all(signal.SIGCONT)
            self.kill()

    def stop(self) -> None:
        if self.process is None:
            return
        self.signal_all(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class Farm:
    """Servers plus the client side: key, known_hosts and the configuration naming them."""

    root: Path
    program: Path
    servers: list[SshServer] = field(default_factory=list)
    public_key: str = ""
    relays: list[tuple[str, SshServer, LatencyRelay]] = field(default_factory=list)  # (alias, server, relay)

    @property
    def client_key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def config(self) -> Path:
        return self.root / "ssh_config"

    def add_server(
        self, alias: str | None = None, start: bool = True, extra_config: list[str] | None = None
    ) -> SshServer:
        alias = alias or f"srv{len(self.servers) + 1}"
        server = SshServer(alias, self.root / alias, self.program, self.public_key, extra_config=extra_config or [])
        server.root.mkdir()
        server.prepare()
        self.servers.append(server)
        if start:
            server.start()
        self.write_client_files()
        return server

    def add_distant_alias(self, server: SshServer, rtt: float, alias: str | None = None) -> str:
        """A second alias for ``server``, reached through a relay that adds ``rtt`` seconds per round trip."""
        alias = alias or f"{server.alias}-far"
        self.relays.append((alias, server, LatencyRelay(server.port, rtt / 2)))
        self.write_client_files()
        return alias

    def write_client_files(self, trusted: list[SshServer] | None = None) -> None:
        """The client configuration for every server, and known_hosts with ``trusted`` (default all)."""
        entries = [(server.alias, server, server.port) for server in self.servers]
        entries += [(alias, server, relay.port) for alias, server, relay in self.relays]
        blocks = []
        for alias, _server, port in entries:
            blocks.append(
                f"Host {alias}\n"
                f"  HostName 127.0.0.1\n"
                f"  Port {port}\n"
                f"  User {getpass.getuser()}\n"
                f"  IdentityFile {self.client_key}\n"
                f"  IdentitiesOnly yes\n"
                f"  UserKnownHostsFile {self.known_hosts}\n"
            )
        self.config.write_text("\n".join(blocks))
        trusted = self.servers if trusted is None else trusted
        keys = {id(server): " ".join(server.host_key_line.split()[:2]) for server in trusted}
        lines = [f"[127.0.0.1]:{port} {keys[id(server)]}" for _alias, server, port in entries if id(server) in keys]
        self.known_hosts.write_text("".join(line + "\n" for line in lines))

    def stop(self) -> None:
        for _alias, _server, relay in self.relays:
            relay.close()
        for server in self.servers:
            server.stop()


@contextmanager
def farm() -> Iterator[Farm]:
    """A farm with no server yet; everything is stopped and deleted at the end."""
    program = sshd_program()
    root = Path(tempfile.mkdtemp(prefix="deploycenter-sshd-"))
    made = Farm(root, program)
    try:
        made.public_key = keygen(made.client_key, "deploycenter-tests")
        yield made
    finally:
        made.stop()
        shutil.rmtree(root, ignore_errors=True)


def start_or_skip(made: Farm, alias: str | None = None, extra_config: list[str] | None = None) -> SshServer:
    try:
        return made.add_server(alias, extra_config=extra_config)
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        unavailable(f"sshd could not start: {error}")
