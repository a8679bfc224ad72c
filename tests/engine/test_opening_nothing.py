"""Opening an environment where there is none makes nothing: no data folder, file or schema.

Only ``init`` (and the window's welcome dialog, once the user chose) lays an environment down;
every other way in leaves the place as it found it, so that a later ``init --demo`` or the demo
script still finds it empty.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from app.engine import operations
from app.engine.context import Location, open_context
from app.engine.errors import StateError


def test_an_empty_data_folder_is_left_empty(tmp_path: Path) -> None:
    folder = tmp_path / "env"
    folder.mkdir()
    with pytest.raises(StateError, match=r"no environment at .*deploycenter\.sqlite3.*run 'init' first"):
        open_context(Location(folder))
    assert list(folder.iterdir()) == []


def test_a_missing_data_folder_is_not_made(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="the folder does not exist"):
        open_context(Location(tmp_path / "env"))
    assert list(tmp_path.iterdir()) == []


def test_an_empty_postgresql_database_gets_no_schema(tmp_path: Path, postgres_url: str) -> None:
    location = Location(tmp_path, postgres_url)
    with pytest.raises(StateError, match=r"no environment in .* yet; run 'init' first"):
        open_context(location)
    engine = create_engine(postgres_url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()
    operations.init_environment(location, frontends=[str(tmp_path / "fe")]).close()  # init still makes it
    open_context(location).close()


def test_a_command_on_an_empty_folder_exits_4_and_leaves_it_empty(tmp_path: Path) -> None:
    from app.__main__ import main

    folder = tmp_path / "env"
    folder.mkdir()
    assert main(["--unattended", "status", "--data-dir", str(folder)]) == 4
    assert main(["--unattended", "modules", "--data-dir", str(folder)]) == 4
    assert list(folder.iterdir()) == []
