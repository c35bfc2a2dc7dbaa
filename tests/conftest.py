"""Shared fixtures: real PostgreSQL/pgvector (pytest-django's test database), real Redis,
a real Celery worker process, and a local OpenAI-compatible HTTP server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

pytest_plugins = ["tests.fake_openai"]

BASE_DIR = Path(__file__).resolve().parent.parent
SHARED_DATA = BASE_DIR.parent / "shared" / "data"
KORQUAD = SHARED_DATA / "korquad_v1.0_dev_articles_000-069.json"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: object) -> None:
    """pytest-django's test database, checked for pgvector once."""
    with django_db_blocker.unblock(), connection.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert cur.fetchone(), "the vector extension is missing from the test database"


@pytest.fixture
def live_kb(db: None) -> object:
    from knowledge.services import knowledge_base_get_live

    return knowledge_base_get_live()


class Worker:
    """A real ``celery worker`` process (solo pool) on the test database and test Redis database,
    consuming every queue (emails, indexing, default). Fault tests stop, kill and restart it
    with other settings (``restart(**env)``); each start gets a fresh log and email folder."""

    QUEUES = "emails,indexing,indexing-large,celery"

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp, self.env, self.starts = tmp, env, 0
        self.proc: subprocess.Popen[str] | None = None
        self.email_dir, self.log = tmp / "emails-0", tmp / "worker-0.log"

    def start(self, **env: str) -> None:
        """Start the worker with ``env`` on top of the session's environment; wait until it is ready."""
        self.starts += 1
        self.email_dir, self.log = self.tmp / f"emails-{self.starts}", self.tmp / f"worker-{self.starts}.log"
        self.email_dir.mkdir()
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "portal", "worker", "-P", "solo", "-Q", self.QUEUES,
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
                cwd=BASE_DIR, env={**self.env, "EMAIL_FILE_PATH": str(self.email_dir), **env},
                stdout=out, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
        self.wait_for(lambda: "ready." in self.log.read_text(), timeout=60, what="the worker to start")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Warm shutdown (SIGTERM): the running task finishes, unacknowledged messages go back."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL, as the OOM killer does: no clean-up, the running task's message stays unacknowledged."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def restart(self, **env: str) -> None:
        self.stop()
        self.start(**env)

    def emails(self) -> list[str]:
        """Raw messages the worker wrote with Django's file email backend."""
        return [p.read_text() for p in sorted(self.email_dir.glob("*.log"))]

    def wait_for(self, predicate: object, timeout: float = 60.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; worker log:\n{self.log.read_text()[-4000:]}")


@contextmanager
def beat(worker: Worker, tmp_path: Path, env: dict[str, str]) -> Iterator[None]:
    """Celery beat in its own process, sending the sweeps on the schedule in settings."""
    log = tmp_path / "beat.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "beat", "-s", str(tmp_path / "beat-schedule"),
             "--max-interval", "1", "-l", "info"],
            cwd=BASE_DIR, env={**worker.env, **env}, stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "Sending due task sweep-emails" not in log.read_text():  # up and sweeping
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.fixture(scope="session")
def worker_process(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """The session's ``celery worker`` (not started yet: ``celery_worker`` starts it), stopped at the end."""
    env = {
        **os.environ,
        "DATABASE_NAME": settings.DATABASES["default"]["NAME"],
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "PYTHONUNBUFFERED": "1",
    }
    worker = Worker(tmp_path_factory.mktemp("worker"), env)
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def celery_worker(worker_process: Worker) -> Worker:
    """A real ``celery worker`` process on the test database and the test Redis database.

    It sends email with the file backend into a temporary folder, so tests can read what
    was sent. Tests that use it must commit (``django_db(transaction=True)``). Started on
    first use, and again after a test stopped it (the browser tests do, so transactional
    tests after them find no worker consuming their queue): each start begins with an
    empty broker (stale tasks of earlier tests) and a fresh email folder.
    """
    import redis

    if not worker_process.running:
        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
        worker_process.start()
    return worker_process


@pytest.fixture
def fault_worker(celery_worker: Worker) -> Iterator[Worker]:
    """The session's worker, for a test that kills or reconfigures it; restored afterwards."""
    yield celery_worker
    celery_worker.restart()


@pytest.fixture(autouse=True)
def _generous_rate_limit(settings: object) -> None:
    """Tests share one client IP; a test of the limit itself sets its own rate."""
    settings.ASK_RATE_LIMIT = "100000/m"  # type: ignore[attr-defined]
    settings.TICKET_RATE_LIMIT = "100000/m"  # type: ignore[attr-defined]
    settings.FEEDBACK_RATE_LIMIT = "100000/m"  # type: ignore[attr-defined]
    settings.TICKET_ACKS_PER_RECIPIENT_PER_HOUR = 1000  # type: ignore[attr-defined]
    settings.TICKET_ACKS_PER_IP_PER_HOUR = 1000  # type: ignore[attr-defined]


@pytest.fixture
def make_article(live_kb: object):  # type: ignore[no-untyped-def]
    """Create an article in the live knowledge base and (by default) index it in-process
    through the same path the worker runs (``article_index``)."""
    from django.utils import timezone

    from knowledge.models import Article
    from knowledge.services import article_index

    def make(title: str, body: str, *, language: str = "ko", status: str = "published", index: bool = True, **extra):  # type: ignore[no-untyped-def]
        article = Article.objects.create(
            knowledge_base=live_kb, title=title, slug=extra.pop("slug", None) or title[:50].replace(" ", "-").lower(),
            body=body, language=language, status=status, published_at=extra.pop("published_at", timezone.now()), **extra,
        )  # fmt: skip
        if index:
            article_index(article_id=article.pk)
            article.refresh_from_db()
        return article

    return make


REFUND_KO = (
    "결제 후 14일 이내에는 전액 환불이 가능합니다. 환불은 마이페이지의 주문 내역에서 신청할 수 있습니다.\n\n"
    "환불 처리에는 영업일 기준 3일이 걸립니다."
)
SHIPPING_KO = (
    "주문은 평일 오후 2시 이전에 결제하면 당일 출고됩니다. 배송은 보통 1~2일이 걸리며 제주 지역은 3일이 걸립니다."
)
PASSWORD_EN = (
    "To reset your password, open Settings and choose Forgot password. "
    "We email you a reset link that stays valid for 30 minutes."
)
PLANS_EN = (
    "The Basic plan costs 9,900 won per month and the Pro plan costs 19,900 won per month. Annual billing saves 20%."
)


@pytest.fixture
def sample_articles(make_article):  # type: ignore[no-untyped-def]
    return {
        "refund": make_article("환불 정책 안내", REFUND_KO, slug="refund"),
        "shipping": make_article("배송 안내", SHIPPING_KO, slug="shipping"),
        "password": make_article("Resetting your password", PASSWORD_EN, language="en", slug="password"),
        "plans": make_article("Plans and pricing", PLANS_EN, language="en", slug="plans"),
    }


@pytest.fixture
def broker_down():  # type: ignore[no-untyped-def]
    """Point the real Celery app at a closed port: publishing fails as with Redis down."""
    from portal.celery import app

    def reset_pools() -> None:
        app._pool = None
        app.amqp._producer_pool = None

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    reset_pools()
    yield
    app.conf.broker_url = original
    reset_pools()


@pytest.fixture(autouse=True)
def _broker_not_marked_down() -> None:
    """Each test starts with this process trying the broker: a test that took it down (above,
    or a stopped private Redis) leaves :func:`tasks.enqueue`'s pause behind."""
    import tasks

    tasks._broker_down_until = 0.0


@pytest.fixture(autouse=True)
def _migration_rows(request: pytest.FixtureRequest) -> None:
    """Transactional tests flush the rows data migrations made (the live collection, the
    answer policy, the staff groups); put them back for the tests that come after."""
    marker = request.node.get_closest_marker("django_db")
    wanted = {"db", "transactional_db"} & set(request.fixturenames)
    if marker is None and not wanted:
        return
    transactional = "transactional_db" in wanted or bool(marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.conf import settings as django_settings

    from knowledge.services import knowledge_base_get_live
    from support.models import AnswerPolicy

    knowledge_base_get_live()
    from django.apps import apps
    from django.contrib.auth.models import Group

    from support.roles import ROLE_PERMISSIONS, roles_sync

    if Group.objects.filter(name__in=ROLE_PERMISSIONS).count() < len(ROLE_PERMISSIONS):
        roles_sync(apps)  # the staff groups (migrations 0005/0009)
    AnswerPolicy.objects.get_or_create(
        pk=1, defaults={"confidence_threshold": django_settings.ANSWER_CONFIDENCE_THRESHOLD}
    )
