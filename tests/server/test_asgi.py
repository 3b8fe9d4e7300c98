"""The worker factory builds its application from the environment that `serve --workers` sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from salespilot.errors import ParameterError
from salespilot.server import asgi


def test_the_factory_reads_the_store_and_the_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "store.duckdb")
    for name, value in asgi.worker_environment(db, secure_cookies=False, upload_limit_mb=3).items():
        monkeypatch.setenv(name, value)
    app = asgi.app()
    try:
        assert app.state.workspace.label == db
        assert app.state.context.secure_cookies is False
        assert app.state.upload_limit == 3 * 1024 * 1024
    finally:
        app.state.workspace.close()


def test_the_defaults_are_secure_cookies_and_50_mb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(asgi.DB_VAR, str(tmp_path / "store.duckdb"))
    monkeypatch.delenv(asgi.SECURE_COOKIES_VAR, raising=False)
    monkeypatch.delenv(asgi.UPLOAD_LIMIT_VAR, raising=False)
    app = asgi.app()
    try:
        assert app.state.context.secure_cookies is True
        assert app.state.upload_limit == 50 * 1024 * 1024
    finally:
        app.state.workspace.close()


@pytest.mark.parametrize(("name", "value"), [(asgi.SECURE_COOKIES_VAR, "maybe"), (asgi.UPLOAD_LIMIT_VAR, "0")])
def test_a_wrong_value_is_named(name: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(asgi.DB_VAR, str(tmp_path / "store.duckdb"))
    monkeypatch.setenv(name, value)
    with pytest.raises(ParameterError, match=name):
        asgi.app()
    assert not (tmp_path / "store.duckdb").exists()
