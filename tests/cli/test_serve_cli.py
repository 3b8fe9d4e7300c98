"""`salespilot serve` as a user runs it: a real process, a real port, the first admin's password printed once."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from salespilot.engine.workspace import Workspace


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_creates_the_first_admin_and_serves_the_overview(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    with Workspace(db) as ws:
        ws.demo("small")
    port = _free_port()
    command = [sys.executable, "-m", "salespilot", "serve", "--db", str(db), "--port", str(port), "--insecure-cookies"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        _check(process, port)


def _check(process: subprocess.Popen[str], port: int) -> None:
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"admin@salespilot.local, password (\S+)", first)
        assert found, first
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(base + "/login", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, follow_redirects=True) as client:
            signed = client.post("/login", data={"email": "admin@salespilot.local", "password": found.group(1)})
            assert signed.status_code == 200 and 'data-kpi="revenue"' in signed.text
            me = client.get("/api/v1/me")
            assert me.json()["role"] == "admin"
    finally:
        process.terminate()
        process.wait(timeout=20)
