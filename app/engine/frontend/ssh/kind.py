"""The SSH kind of front-end: a folder on another machine, ``ssh://[user@]host[:port]/absolute/path``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.engine.frontend.feeding import Feeding
from app.engine.frontend.ssh.url import parse_ssh_url

if TYPE_CHECKING:
    from app.engine.frontend.target import FrontendTarget


class SshKind:
    """``FrontendDriver`` of a folder reached over SSH. The folder is the server's business: it
    is checked by reaching it (``FrontendTarget.check``), never created from here."""

    scheme = "ssh"
    remote = True
    # A few big batches, one per worker, pipelined on one connection of the run's process: a
    # batch costs round trips and syncs, not Python. Each batch makes its switches durable
    # itself (a shared, pipelined sync), so the run's coordinator never waits on the network.
    feeding = Feeding(batch=250, spread=1, worker_processes=False, durable_per_batch=True)

    def parse(self, text: str) -> str:
        return str(parse_ssh_url(text))

    def key(self, location: str) -> str:
        return location  # parsing gave it its one spelling

    def label(self, location: str) -> str:
        return parse_ssh_url(location).host

    def check(self, location: str) -> None:
        pass  # nothing to know without reaching it

    def prepare(self, location: str) -> None:
        pass

    def open(self, name: str, location: str) -> FrontendTarget:
        # Here: asyncssh loads only where an SSH front-end is used.
        from app.engine.frontend.ssh.options import limits_from_env
        from app.engine.frontend.ssh.target import SshTarget

        return SshTarget(name, location, limits_from_env())
