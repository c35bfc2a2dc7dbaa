"""Load against gunicorn in production mode: bounded connections, no 5xx, every answer stored."""

import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from devtools.load import LoadReport, load_run
from devtools.serve import gunicorn_running, production_env
from devtools.services import free_port
from support.models import Question

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APP_NAME = "portal-load-test"  # PGAPPNAME of the server under test, to count its connections


def _server_env(port: int, **extra: str) -> dict[str, str]:
    base = {
        **os.environ,
        "DATABASE_NAME": settings.DATABASES["default"]["NAME"],
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "ASK_RATE_LIMIT": "100000/m",
        "DJANGO_NUM_PROXIES": "1",
        "GUNICORN_ACCESS_LOG": "",
        "PGAPPNAME": APP_NAME,
        **extra,
    }
    return production_env(base, port)


@contextmanager
def _peak_connections() -> Iterator[list[int]]:
    """Sample the server's PostgreSQL connections every 0.2 s; yields [peak] (filled on exit)."""
    peak, stop = [0], threading.Event()
    dsn = connection.get_connection_params()
    dsn.pop("cursor_factory", None)
    dsn.pop("context", None)

    def sample() -> None:
        with psycopg.connect(**dsn, autocommit=True) as conn:
            while not stop.wait(0.2):
                row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP_NAME])
                peak[0] = max(peak[0], row.fetchone()[0])  # type: ignore[index]

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join(5)


def _stored(report: LoadReport) -> int:
    return Question.objects.filter(pk__in=report.created_ids).count()


def test_16_clients_for_20_s_get_no_5xx_and_every_answer_is_stored(sample_articles: object, tmp_path: Path) -> None:
    port = free_port()
    with gunicorn_running(_server_env(port), port, log=tmp_path / "gunicorn.log"), _peak_connections() as peak:
        report = load_run(url=f"http://127.0.0.1:{port}", clients=16, seconds=20)
    print(report.summary())
    assert report.failures == 0, report.summary()
    assert set(report.statuses) == {"201"}, report.summary()
    assert report.requests >= 100  # ~30/s on 2 shared cores
    assert len(set(report.created_ids)) == len(report.created_ids) == _stored(report)
    workers, pool = 2, settings.DB_POOL_MAX_SIZE  # gunicorn.conf.py and settings defaults
    assert 0 < peak[0] <= workers * pool


def test_past_pool_capacity_clients_get_503_with_retry_after_never_500(sample_articles: object, tmp_path: Path) -> None:
    """One connection per process, 8 threads each, 0.2 s wait, 32 clients: the pool is the bottleneck."""
    port = free_port()
    env = _server_env(port, DB_POOL_MAX_SIZE="1", DB_POOL_TIMEOUT="0.2", GUNICORN_THREADS="8")
    with gunicorn_running(env, port, log=tmp_path / "gunicorn.log"), _peak_connections() as peak:
        report = load_run(url=f"http://127.0.0.1:{port}", clients=32, seconds=8)
    print(report.summary())
    assert set(report.statuses) <= {"201", "503"}, report.summary()
    assert report.statuses["503"] > 0 and report.statuses["201"] > 0, report.summary()
    assert _stored(report) == report.statuses["201"]  # accepted means stored
    assert peak[0] <= 2  # two gunicorn workers, one connection each
    assert report.retry_after == {"5": report.statuses["503"]}, report.retry_after  # every 503 says when to retry
