"""`salespilot serve --workers N`: N real worker processes on PostgreSQL, any of which serves any
signed-in request and counts every failed sign-in (sessions, tokens and sign-in attempts are rows
of the store); refused on DuckDB."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from tests.conftest import require_service, run_cli

from salespilot.engine.workspace import Workspace

EMAIL = "lead@example.com"
PASSWORD = "correct horse battery"
WORKERS = 3
# One keep-alive connection's requests: the overview once (it costs about 1.5 s on PostgreSQL), then the API.
ROUTE = ("/", *["/api/v1/kpis/revenue"] * 4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _workers(parent: int) -> list[int]:
    """The uvicorn worker processes of ``parent`` (multiprocessing's spawned children, not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def _connection_owners(port: int, workers: list[int]) -> dict[int, int]:
    """Client port -> pid of the worker holding the established connection to the server's ``port``."""
    remote_by_inode = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if state == "01" and int(local.rpartition(":")[2], 16) == port:  # 01: ESTABLISHED
            remote_by_inode[inode] = int(remote.rpartition(":")[2], 16)
    owners = {}
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            inode = target.removeprefix("socket:[").removesuffix("]")
            if target.startswith("socket:[") and inode in remote_by_inode:
                owners[remote_by_inode[inode]] = pid
    return owners


def _wait_until_serving(process: subprocess.Popen[str], base: str, log: Path) -> None:
    for _ in range(300):
        assert process.poll() is None, f"serve ended early:\n{log.read_text()}"
        try:
            httpx.get(base + "/login", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"serve did not answer:\n{log.read_text()}")


def _sign_in(base: str) -> str:
    """The session cookie of a browser sign-in, checked to be Secure (the workers read the option)."""
    response = httpx.post(base + "/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 303, response.text
    header = response.headers["set-cookie"]
    assert "secure" in header.lower() and "httponly" in header.lower(), header
    return str(response.cookies["sp_session"])


def _client_port(response: httpx.Response) -> int:
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


def _requests(base: str, headers: dict[str, str], port: int, workers: list[int]) -> list[int]:
    """The requests of ``ROUTE`` on one keep-alive connection, each checked to answer 200: the pid of
    the worker that served each one (0: not found)."""
    served = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for path in ROUTE:
            response = client.get(path)
            assert response.status_code == 200, response.text[:300]
            served.append(_connection_owners(port, workers).get(_client_port(response), 0))
            if path == "/":
                assert 'data-kpi="revenue"' in response.text
            else:
                assert {item["kpi"] for item in response.json()["items"]} == {"revenue"}
    return served


def _spread(base: str, port: int, workers: list[int], credentials: dict[str, dict[str, str]]) -> dict[str, list[int]]:
    """Rounds of concurrent connections (which spread over the workers) until each kind of credentials
    has been served by two workers or more: the pids that served each kind's requests, all answered 200."""
    served: dict[str, list[int]] = {kind: [] for kind in credentials}
    deadline = time.monotonic() + 90
    while any(len(set(pids)) < 2 for pids in served.values()) and time.monotonic() < deadline:
        with ThreadPoolExecutor(max_workers=6) as pool:
            runs = [
                (kind, pool.submit(_requests, base, headers, port, workers))
                for _ in range(3)
                for kind, headers in credentials.items()
            ]
            for kind, run in runs:
                served[kind] += run.result()
    return served


def _connections_on_workers(base: str, port: int, workers: list[int], stack: ExitStack) -> list[httpx.Client]:
    """Open keep-alive clients (closed by ``stack``) until two workers or more hold one: one client per worker."""
    by_worker: dict[int, httpx.Client] = {}
    for _ in range(10):
        clients = [stack.enter_context(httpx.Client(base_url=base, timeout=60)) for _ in range(6)]
        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(pool.map(lambda client: client.get("/login"), clients))
        owners = _connection_owners(port, workers)
        for client, response in zip(clients, responses, strict=True):
            by_worker.setdefault(owners.get(_client_port(response), 0), client)
        by_worker.pop(0, None)
        if len(by_worker) >= 2:
            break
    return list(by_worker.values())


def _check_failed_sign_ins_count_across_workers(base: str, port: int, workers: list[int]) -> None:
    """Five wrong passwords sent to the workers in turn: the sixth attempt is refused (429), whichever worker."""
    form = {"email": "nobody@example.com", "password": "wrong password!"}
    with ExitStack() as stack:
        clients = _connections_on_workers(base, port, workers, stack)
        assert len(clients) >= 2, "no two workers could be reached"
        statuses = [clients[i % len(clients)].post("/login", data=form).status_code for i in range(6)]
    assert statuses == [401] * 5 + [429], statuses


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.slow
def test_three_workers_serve_one_session_and_one_token(new_postgres_db: Callable[[], str], tmp_path: Path) -> None:
    if not Path("/proc/net/tcp").exists():
        require_service("this test finds the worker processes and their connections in Linux's /proc")
    url = new_postgres_db()
    with Workspace(url) as ws:
        ws.demo("small")
        ws.add_user(EMAIL, PASSWORD, "admin", name="Lead")
        token = ws.new_token(EMAIL)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "salespilot", "serve", "--db", url, "--workers", str(WORKERS), "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("w") as out, subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True) as process:
        try:
            _wait_until_serving(process, base, log)
            workers = _workers(process.pid)
            assert len(workers) == WORKERS, (workers, log.read_text())
            cookie = _sign_in(base)
            credentials = {"cookie": {"Cookie": f"sp_session={cookie}"}, "token": {"Authorization": f"Bearer {token}"}}
            served = _spread(base, port, workers, credentials)
            assert sum(len(one) for one in served.values()) >= 30
            for kind, pids in served.items():  # the session was opened by one worker: others honour it too
                assert 0 not in pids, f"a connection ({kind}) was not found in any worker"
                assert len(set(pids)) >= 2, f"every request with the {kind} was served by worker {set(pids)}"
            _check_failed_sign_ins_count_across_workers(base, port, workers)
            assert _workers(process.pid) == workers, "a worker died or was replaced while serving"
        finally:
            _stop(process)
    assert process.returncode == 0, log.read_text()
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "workers outlived the server"
    assert "Traceback" not in log.read_text()


def test_a_duckdb_store_refuses_several_workers(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    done = run_cli("serve", "--workers", "2", "--port", str(_free_port()), db=db)
    assert done.returncode == 2, done.stderr
    assert "DuckDB file" in done.stderr and "--workers 1" in done.stderr and "PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr
    assert not db.exists(), "the refusal comes before the store is opened"
