"""The connection's one remote shell: scripts from many threads at once are all sent without
waiting for each other's replies, run in order, and each gets its own output, errors and status;
data on a script's stdin keeps the stream in step even when the script does not read it all,
or when reading the data here fails half-way."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.engine.frontend.ssh.options import SessionError
from app.engine.frontend.ssh.session import Completed, Session
from app.engine.frontend.ssh.url import parse_ssh_url
from tests.engine.frontend.conftest import FAST
from tests.sshd import SshServer


@pytest.fixture
def session(server: SshServer, remote_folder: Path) -> Iterator[Session]:
    made = Session(parse_ssh_url(server.url(remote_folder)), FAST)
    yield made
    made.close()


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def waiting_for_a_reply(thread: threading.Thread) -> bool:
    """Whether ``thread`` is inside a Session call, waiting for the connection's loop."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == "_call" and frame.f_code.co_filename.endswith("session.py"):
            return True
        frame = frame.f_back
    return False


def test_scripts_from_many_threads_are_sent_at_once_and_answered_in_order(
    session: Session, server: SshServer, tmp_path: Path
) -> None:
    flag = tmp_path / "go"
    session.shell("true")  # connected, shell started
    replies: dict[int, Completed] = {}
    blocker = threading.Thread(
        target=lambda: replies.setdefault(0, session.shell(f"while [ ! -e {flag} ]; do sleep 0.05; done; echo first"))
    )
    blocker.start()
    wait_for(lambda: session.counts().scripts == 2)
    others = [
        threading.Thread(
            target=lambda n=n: replies.setdefault(n, session.shell(f"echo out{n}; echo err{n} >&2; exit {n}"))
        )
        for n in range(1, 6)
    ]
    for thread in others:
        thread.start()
    wait_for(lambda: session.counts().scripts == 7)  # all sent while the first still runs
    assert not replies
    flag.write_text("")
    for thread in [blocker, *others]:
        thread.join(timeout=30)
    assert replies[0] == Completed(0, b"first\n", b"")
    for n in range(1, 6):
        assert replies[n] == Completed(n, f"out{n}\n".encode(), f"err{n}\n".encode())
    counts = session.counts()
    assert (counts.connections, counts.sessions) == (1, 1)
    assert server.log().count("Starting session:") == 1


def test_data_a_script_leaves_unread_does_not_reach_the_next_script(session: Session) -> None:
    first = session.shell("head -c 5", [b"hello world, and much more " * 10_000])
    assert first == Completed(0, b"hello", b"")
    assert session.shell("cat | wc -c", [b"x" * 3_000_000, b"y" * 7]).stdout.strip() == b"3000007"
    assert session.shell("echo still in step").stdout == b"still in step\n"


def test_a_failure_reading_the_data_here_reaches_the_caller_and_the_shell_stays_in_step(session: Session) -> None:
    def failing() -> Iterator[bytes]:
        yield b"a" * 100_000
        raise OSError("the big file changed while it was read")

    with pytest.raises(OSError, match="changed while it was read"):
        session.shell("cat > /dev/null", failing())
    assert session.shell("echo fine").stdout == b"fine\n"
    assert session.counts().connections == 1, "the connection was kept"


def test_a_shared_script_asked_while_one_is_waiting_to_run_runs_once(session: Session, tmp_path: Path) -> None:
    flag = tmp_path / "go"
    session.shell("true")
    blocker = threading.Thread(target=session.shell, args=(f"while [ ! -e {flag} ]; do sleep 0.05; done",))
    blocker.start()
    wait_for(lambda: session.counts().scripts == 2)
    sent: list[bool] = []
    askers = [threading.Thread(target=lambda: sent.append(session.shared("sync")[1])) for _ in range(6)]
    for thread in askers:
        thread.start()
    wait_for(lambda: all(waiting_for_a_reply(thread) for thread in askers))
    time.sleep(0.2)  # their calls reach the connection's loop, where each joins the one sent
    flag.write_text("")
    for thread in [blocker, *askers]:
        thread.join(timeout=30)
    assert sorted(sent) == [False] * 5 + [True] and session.counts().scripts == 3


def test_a_lost_connection_fails_the_scripts_in_flight_and_the_next_call_connects_again(
    session: Session, server: SshServer
) -> None:
    session.shell("true")
    ended: list[Completed | SessionError] = []

    def long_script() -> None:
        try:
            ended.append(session.shell("sleep 30"))
        except SessionError as error:
            ended.append(error)

    waiting = [threading.Thread(target=long_script) for _ in range(3)]
    for thread in waiting:
        thread.start()
    wait_for(lambda: session.counts().scripts == 4)
    server.kill()
    for thread in waiting:
        thread.join(timeout=30)
    assert len(ended) == 3, ended
    # The script running when the server died may still come back, killed, from its shell in the
    # moment before the shell is killed too; the scripts waiting behind it are lost with the
    # connection. None of them passes for done.
    lost = [error for error in ended if isinstance(error, SessionError)]
    assert len(lost) >= 2 and all("connection was lost" in str(error) for error in lost), ended
    assert all(done.status != 0 for done in ended if isinstance(done, Completed)), ended
    server.start()
    assert session.shell("echo back").stdout == b"back\n"
    assert session.counts().connections == 2
