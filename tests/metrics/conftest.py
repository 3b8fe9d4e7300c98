"""Fixtures of the KPI tests: fresh workspaces, fast.

Creating a store runs every migration (about a second on a busy machine); the KPI tests create
dozens. So one empty store is created per session, with the real migrations, and each test opens
a copy of it with ``salespilot.open``: the same store a first ``open`` would give.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import salespilot
from salespilot.engine.workspace import Workspace

NewWorkspace = Callable[[Path], Workspace]


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "empty.duckdb"
    salespilot.open(path).close()
    assert [p.name for p in path.parent.iterdir()] == ["empty.duckdb"]  # one self-contained file
    return path


@pytest.fixture(scope="session")
def new_workspace(empty_store: Path) -> NewWorkspace:
    """``new_workspace(folder)``: a new, empty workspace ``folder / "s.duckdb"``."""

    def make(folder: Path) -> Workspace:
        target = folder / "s.duckdb"
        shutil.copyfile(empty_store, target)
        return salespilot.open(target)

    return make


@pytest.fixture
def ws(new_workspace: NewWorkspace, tmp_path: Path) -> Iterator[Workspace]:
    """A new, empty workspace for one test (overrides tests/conftest.py's, same contract)."""
    workspace = new_workspace(tmp_path)
    yield workspace
    workspace.close()
