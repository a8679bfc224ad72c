"""A throwaway PostgreSQL cluster for the test session, and a fresh database for each test.

The cluster comes from Debian's ``postgresql`` package (``initdb`` and ``pg_ctl`` under
``/usr/lib/postgresql/<major>/bin``, or the folder in ``DEPLOYCENTER_TEST_PG_BIN``). It lives in a
temporary folder, listens on 127.0.0.1 on a free port with its unix socket in that folder, trusts
local connections, and is stopped and deleted when the session ends. PostgreSQL refuses to run as
root, so as root the server runs as the ``postgres`` user (or ``nobody``) through ``runuser``.

Without the binaries the PostgreSQL variants are skipped, except in CI (``CI`` set): there they fail,
so a CI image that lost the package cannot pass silently.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest

SUPERUSER = "deploycenter"
BIN_ENV = "DEPLOYCENTER_TEST_PG_BIN"
# Durability is irrelevant for a cluster that is deleted afterwards; these make it fast.
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "32MB",
}


def unavailable(reason: str) -> NoReturn:
    """Skip a PostgreSQL test on a developer machine; fail it in CI, where it must run."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests must run in CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason} (install Debian's postgresql package)")


def find_bin_dir() -> Path | None:
    """The newest installed server's bin folder, or the one the environment names."""
    named = os.environ.get(BIN_ENV)
    if named:
        return Path(named) if (Path(named) / "initdb").is_file() else None
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_account() -> str | None:
    """Who runs the server: None for this user, or an unprivileged account when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    unavailable("running as root and there is no 'postgres' or 'nobody' account to run the server")


@dataclass
class Cluster:
    bin_dir: Path
    root: Path
    port: int
    account: str | None
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.account is not None:
            command = ["runuser", "-u", self.account, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root)

    @classmethod
    def start(cls, bin_dir: Path) -> Cluster:
        account = server_account()
        root = Path(tempfile.mkdtemp(prefix="deploycenter-pg-"))
        if account is not None:
            entry = pwd.getpwnam(account)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        cluster = cls(bin_dir, root, 0, account)
        try:
            cluster._init()
            cluster._start_server()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _init(self) -> None:
        done = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")

    def _start_server(self) -> None:
        # A port found free can be taken before the server binds it; try a few.
        problem = ""
        for _attempt in range(5):
            self.port = free_port()
            settings = dict(SERVER_SETTINGS, port=str(self.port), unix_socket_directories=str(self.root))
            options = " ".join(f"-c {key}={value}" for key, value in settings.items())
            done = self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.root / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "30",
                "start",
            )
            if done.returncode == 0:
                return
            problem = self.log_tail()
        raise RuntimeError(f"the PostgreSQL server did not start: {problem}")

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = (self.root / "server.log").read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return " | ".join(text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(sql)

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self.admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        # FORCE: a test that failed may still hold connections (a killed child's are closing).
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        where = os.environ.get(BIN_ENV) or "/usr/lib/postgresql/*/bin"
        unavailable(f"no PostgreSQL server binaries (initdb, pg_ctl) in {where}")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("the psycopg driver is not installed (pip install -e '.[postgres]')")
    cluster = Cluster.start(bin_dir)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh, empty database on the session's cluster."""
    name = postgres_cluster.create_database()
    yield postgres_cluster.url(name)
    postgres_cluster.drop_database(name)


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Each test that takes this runs twice: on SQLite in its data dir (None) and on PostgreSQL."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def backend_env(database_url: str | None, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """The same, passed the way child processes and the CLI read it: DEPLOYCENTER_DATABASE_URL."""
    if database_url is not None:
        monkeypatch.setenv("DEPLOYCENTER_DATABASE_URL", database_url)
    return database_url
