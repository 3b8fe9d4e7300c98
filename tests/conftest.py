from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import salespilot
from salespilot.engine.workspace import Workspace

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.duckdb"


@pytest.fixture
def ws(db_path: Path) -> Iterator[Workspace]:
    workspace = salespilot.open(db_path)
    yield workspace
    workspace.close()


def run_cli(
    *args: str, db: Path | None = None, cwd: Path | None = None, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``salespilot`` command in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("SALESPILOT_DEBUG", None)
    if db is not None:
        full_env["SALESPILOT_DB"] = str(db)
    return subprocess.run(
        [sys.executable, "-m", "salespilot", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path
