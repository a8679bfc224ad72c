"""The ownership stamp on local and SSH front-ends: read, written atomically, claimed, refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.frontend.local.target import LocalTarget
from app.engine.frontend.ownership import ForeignFrontendError, Owner, adopt, claim
from app.engine.frontend.ssh.target import SshTarget
from app.engine.frontend.target import FrontendTarget
from tests.sshd import ONE_WORKER

MINE = Owner("uid-1", "Prod", "/srv/dc/deploycenter.sqlite3")
COPY = Owner("uid-1", "Prod", "/home/me/copy/deploycenter.sqlite3")  # same id, another place


def check_claims(target: FrontendTarget, stamp_file: Path) -> None:
    assert target.read_owner() is None
    claim([target], MINE)
    assert Owner.parse(stamp_file.read_bytes()) == MINE
    claim([target], MINE)  # its own front-end: nothing to refuse
    with pytest.raises(ForeignFrontendError, match="belongs to environment 'Prod' \\(database /srv/dc/"):
        claim([target], COPY)
    assert Owner.parse(stamp_file.read_bytes()) == MINE, "a refused claim writes nothing"
    assert adopt(target, COPY) == MINE
    assert Owner.parse(stamp_file.read_bytes()) == COPY
    assert [p.name for p in stamp_file.parent.iterdir()] == [stamp_file.name], "no temp file left"


def test_a_local_front_end_is_claimed_once_and_refused_to_others(tmp_path: Path) -> None:
    check_claims(LocalTarget("fe", tmp_path / "fe"), tmp_path / "fe" / ".deploycenter-owner")


@ONE_WORKER
def test_an_ssh_front_end_is_claimed_once_and_refused_to_others(target: SshTarget, remote_folder: Path) -> None:
    check_claims(target, remote_folder / ".deploycenter-owner")
