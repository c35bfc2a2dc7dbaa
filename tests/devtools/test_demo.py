"""``make demo`` stops everything it started on SIGTERM, and refuses to start over leftovers."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from devtools.services import free_port

BASE_DIR = Path(__file__).resolve().parent.parent.parent
STARTUP_TIMEOUT = 150  # fresh initdb, migrations, 10 sample articles indexed by the worker


def _demo_env(data_dir: Path, port: int) -> dict[str, str]:
    """A demo of its own: embedded PostgreSQL in ``data_dir`` and a private redis-server, so it
    shares nothing with the test run (whose worker listens on the test Redis database)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DATABASE_NAME")}
    return env | {
        "PORTAL_DATA_DIR": str(data_dir),
        "PORT": str(port),
        "PORTAL_PRIVATE_REDIS": "1",
        "PORTAL_PRIVATE_REDIS_PORT": str(free_port()),
        "DJANGO_DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _wait_until_served(proc: subprocess.Popen[str], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the demo exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
        if "Press Ctrl-C" in log.read_text():
            response = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
            assert response.status_code == 200
            return
        time.sleep(1)
    raise AssertionError(f"the demo did not come up in {STARTUP_TIMEOUT}s:\n{log.read_text()[-3000:]}")


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "Ctrl-C"])
def test_a_stop_signal_stops_every_process_the_demo_started(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.demo"], cwd=BASE_DIR, env=_demo_env(tmp_path / "data", port),
            stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        _wait_until_served(proc, port, log)
        started = psutil.Process(proc.pid).children(recursive=True)  # worker (+ pool child, beat), runserver, redis
        postmaster = _postmaster_pid(tmp_path / "data")
        names = " ".join(" ".join(p.cmdline()) for p in started)
        assert "celery" in names and "runserver" in names and "redis-server" in names
        assert psutil.pid_exists(postmaster)
        postgres = psutil.Process(postmaster)  # before the signal: the demo may have stopped it by the time it exits

        proc.send_signal(sig)
        assert proc.wait(60) == 0, log.read_text()[-3000:]
        _, alive = psutil.wait_procs([*started, postgres], timeout=15)
        assert not alive, f"still running after {sig.name}: {[(p.pid, p.cmdline()) for p in alive]}"
        assert not (tmp_path / "data" / "demo.pids").exists()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("command", ["demo", "serve"])  # make serve had named `make demo` (nineteenth session)
def test_a_port_in_use_is_reported_with_how_to_choose_another(tmp_path: Path, command: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", f"devtools.{command}"], cwd=BASE_DIR, env=_demo_env(tmp_path / "data", port),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"port {port} is in use" in result.stderr and f"PORT={port + 1} make {command}" in result.stderr
    assert not (tmp_path / "data" / "pgdata").exists()  # nothing was started


def test_a_port_left_in_time_wait_is_free_to_a_restart() -> None:
    """A demo stopped and started again within a minute had been told its port was in use,
    with nothing listening: the last connections' server side waits in TIME_WAIT."""
    from devtools.demo import _port_free

    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server's (socketserver's) own
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server's side closes first, so its end waits in TIME_WAIT
    client.close()
    assert _port_free(port)


def test_processes_left_by_a_killed_run_are_named_with_how_to_stop_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "manage.py", "runserver"])
    try:
        (data / "demo.pids").write_text(f"{leftover.pid}")
        result = subprocess.run(
            [sys.executable, "-m", "devtools.demo"], cwd=BASE_DIR, env=_demo_env(data, free_port()),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 1
        assert f"kill {leftover.pid}" in result.stderr
    finally:
        leftover.kill()
        leftover.wait()


@pytest.mark.slow
def test_sigterm_to_the_parent_alone_still_stops_everything(tmp_path: Path) -> None:
    """A supervisor that signals ``make`` (the demo's parent), not the process group: the demo
    gets SIGTERM from the kernel (PR_SET_PDEATHSIG) and cleans up all the same."""
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        parent = subprocess.Popen(  # like make: runs the demo as a child and waits for it
            ["/bin/sh", "-c", f"{sys.executable} -m devtools.demo; echo parent-done"],
            cwd=BASE_DIR, env=_demo_env(tmp_path / "data", port), stdout=out, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_until_served(parent, port, log)
        [demo] = psutil.Process(parent.pid).children()
        started = [demo, *demo.children(recursive=True), psutil.Process(_postmaster_pid(tmp_path / "data"))]
        parent.send_signal(signal.SIGTERM)  # the parent alone, as `kill <make pid>` does
        parent.wait(10)
        _, alive = psutil.wait_procs(started, timeout=60)
        assert not alive, f"still running: {[(p.pid, p.cmdline()) for p in alive]}\n{log.read_text()[-2000:]}"
        assert "[demo] stopped" in log.read_text()
    finally:
        if parent.poll() is None:
            parent.kill()
        for child in psutil.Process().children(recursive=True):  # never leave a demo behind a failed test
            if str(tmp_path) in " ".join(child.cmdline()):
                child.kill()
