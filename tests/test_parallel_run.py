"""The suite's parallel run (packaging/run-tests): the tests that share one build stay together.

``--dist loadgroup`` sends the tests of one ``xdist_group`` to one worker process. pytest-xdist
finds the group through a suffix it appends to each test's id; pytest 9.2 stopped honouring that
suffix, after which every worker built its own PyInstaller bundle and nothing said so. This test
is in a group of its own and fails when its id comes to the scheduler without the suffix.
"""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("probe")
def test_a_grouped_test_reaches_the_scheduler_with_its_group(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not a worker of a --dist loadgroup run")
    assert request.node.nodeid.endswith("@probe"), (
        f"{request.node.nodeid} lost its xdist_group: this pytest and pytest-xdist do not group "
        "tests together (see the pytest pin in pyproject.toml)"
    )
