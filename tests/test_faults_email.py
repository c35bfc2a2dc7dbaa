"""Fault tests of the email outbox with real parts: a Celery worker process, Celery beat running the
sweeper, PostgreSQL, Redis, and a real SMTP server (aiosmtpd on a free local port) that is stopped
and started. Figures (attempt spacing, timings) are printed; run with ``-s`` to see them."""

from __future__ import annotations

import email
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.urls import reverse

from support.emails import delivery_message_id
from support.models import EmailDelivery, Question, Ticket
from support.tickets import ticket_create
from tests.conftest import Worker, beat

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class Recorder:
    """aiosmtpd handler: keeps every message the server accepted; ``on_message`` runs before the 250."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.on_message: Callable[[Message], None] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        self.messages.append(message)
        if self.on_message:
            self.on_message(message)
        return "250 Message accepted for delivery"


class LocalSMTP:
    """A real SMTP server on 127.0.0.1; ``stop()``/``start()`` make it go down and come back."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.recorder = Recorder()
        self.controller: Controller | None = None

    def start(self) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[Message]:
        return self.recorder.messages

    def env(self, **extra: str) -> dict[str, str]:
        """Worker settings: SMTP to this server, with the outbox settings in ``extra``."""
        smtp = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1"}
        return smtp | {"EMAIL_PORT": str(self.port), "EMAIL_TIMEOUT": "3"} | extra


@pytest.fixture
def smtp() -> Iterator[LocalSMTP]:
    server = LocalSMTP()
    yield server
    server.stop()


def make_ticket() -> Ticket:
    question = Question.objects.create(text="화성 탐사선의 발사 일정은?", status=Question.Status.NO_SOURCES)
    return ticket_create(question=question, email="kim@example.com", details="급합니다")


def record_failures(rows: list[EmailDelivery], seen: dict[int, dict[int, tuple[datetime, datetime]]]) -> None:
    """Note, per row and failed attempt number, (claimed_at, next_attempt_at) as written by the failure."""
    for row in EmailDelivery.objects.filter(pk__in=[r.pk for r in rows], state="pending", attempts__gt=0):
        assert row.claimed_at is not None
        seen[row.pk].setdefault(row.attempts, (row.claimed_at, row.next_attempt_at))


def test_smtp_down_then_back_sends_each_email_once_and_attempts_follow_the_backoff(
    fault_worker: Worker, smtp: LocalSMTP, tmp_path: Path
) -> None:
    base, cap, sweep = 1.0, 4.0, 0.5
    env = smtp.env(
        EMAIL_RETRY_BASE_SECONDS=str(base), EMAIL_RETRY_MAX_SECONDS=str(cap), EMAIL_MAX_RETRIES="6",
        EMAIL_SWEEP_INTERVAL_SECONDS=str(sweep),
    )  # fmt: skip
    fault_worker.restart(**env)
    with beat(fault_worker, tmp_path, env):
        started = time.monotonic()
        rows = list(make_ticket().deliveries.all())  # SMTP is down: nothing listens on the port
        seen: dict[int, dict[int, tuple[datetime, datetime]]] = {r.pk: {} for r in rows}

        def failed_three_times() -> bool:
            record_failures(rows, seen)
            return all(len(attempts) >= 3 for attempts in seen.values())

        fault_worker.wait_for(failed_three_times, timeout=60, what="three failed attempts per email")
        down_for = time.monotonic() - started
        smtp.start()
        fault_worker.wait_for(
            lambda: EmailDelivery.objects.filter(pk__in=seen, state="sent").count() == 2, timeout=60, what="sending"
        )
        recovered_in = time.monotonic() - started - down_for
        time.sleep(3 * sweep + 1)  # sweeps keep running: nothing is sent again
    assert len(smtp.messages) == 2
    by_id = {m["Message-ID"]: m for m in smtp.messages}
    rows = list(EmailDelivery.objects.filter(pk__in=seen))
    assert set(by_id) == {delivery_message_id(r) for r in rows}  # one message per row, each with its own id
    assert {m["To"] for m in smtp.messages} == {"kim@example.com", "support-team@example.com"}
    for row in rows:
        assert row.state == "sent" and row.last_error == "" and row.attempts == len(seen[row.pk]) + 1
        failures = sorted(seen[row.pk].items())
        claims = [claimed for _, (claimed, _) in failures] + [row.claimed_at]
        for (retry, (claimed, next_at)), next_claim in zip(failures, claims[1:], strict=True):
            ceiling = min(cap, base * 2 ** (retry - 1))
            wait = (next_at - claimed).total_seconds()
            assert ceiling / 2 <= wait <= ceiling + 1, (retry, wait)  # equal jitter, + rendering and connecting
            late = (next_claim - next_at).total_seconds()
            assert 0 <= late <= sweep + 3, (retry, late)  # never early; due rows are swept within a beat
        print(
            f"\n[smtp outage] {row.kind}: attempts={row.attempts}; backoff waits "
            + ", ".join(f"{(n - c).total_seconds():.2f}s" for _, (c, n) in failures)
            + "; retry claimed after due by "
            + ", ".join(
                f"{(nc - n).total_seconds():.2f}s" for (_, (_, n)), nc in zip(failures, claims[1:], strict=True)
            )
        )
    print(f"[smtp outage] down {down_for:.1f}s (3 failed attempts each), all sent {recovered_in:.1f}s after recovery")


def test_an_email_past_max_retries_fails_visibly_and_the_admin_resends_it_once(
    fault_worker: Worker, smtp: LocalSMTP, tmp_path: Path, admin_client: Any
) -> None:
    env = smtp.env(
        EMAIL_RETRY_BASE_SECONDS="0.4", EMAIL_RETRY_MAX_SECONDS="1", EMAIL_MAX_RETRIES="2",
        EMAIL_SWEEP_INTERVAL_SECONDS="0.3",
    )  # fmt: skip
    fault_worker.restart(**env)
    admin_client.cookies["django_language"] = "en"
    with beat(fault_worker, tmp_path, env):
        ticket = make_ticket()
        fault_worker.wait_for(
            lambda: ticket.deliveries.filter(state="failed").count() == 2, timeout=60, what="the emails to fail"
        )
        assert {(d.attempts, "refused" in d.last_error.lower()) for d in ticket.deliveries.all()} == {(3, True)}
        page = admin_client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
        assert page.count("Not delivered:") == 2
        smtp.start()
        response = admin_client.post(
            reverse("admin:support_emaildelivery_changelist"),
            {"action": "resend", "_selected_action": [d.pk for d in ticket.deliveries.all()]},
        )
        assert response.status_code == 302
        fault_worker.wait_for(lambda: ticket.deliveries.filter(state="sent").count() == 2, timeout=60, what="resend")
        time.sleep(2)
    assert sorted(m["Message-ID"] for m in smtp.messages) == sorted(
        delivery_message_id(d) for d in ticket.deliveries.all()
    )
    assert {d.attempts for d in ticket.deliveries.all()} == {1}


def test_the_same_email_task_delivered_three_times_sends_one_message(fault_worker: Worker, smtp: LocalSMTP) -> None:
    from tasks.support import send_ticket_email

    smtp.start()
    fault_worker.restart(**smtp.env())
    ticket = make_ticket()  # each row's task is enqueued on commit …
    for delivery in ticket.deliveries.all():
        for _ in range(2):  # … and delivered twice more, as a broker may redeliver it
            send_ticket_email.delay(delivery.pk, 0)

    def finished() -> int:
        log = fault_worker.log.read_text().splitlines()
        return sum(1 for line in log if "send_ticket_email" in line and "succeeded" in line)

    fault_worker.wait_for(lambda: finished() == 6, timeout=60, what="six email task runs")
    assert len(smtp.messages) == 2
    assert sorted(m["To"] for m in smtp.messages) == ["kim@example.com", "support-team@example.com"]


def test_a_worker_killed_after_the_server_accepted_resends_with_the_same_message_id(
    fault_worker: Worker, smtp: LocalSMTP, tmp_path: Path
) -> None:
    env = smtp.env(EMAIL_CLAIM_TIMEOUT_SECONDS="2", EMAIL_SWEEP_INTERVAL_SECONDS="0.5")
    fault_worker.restart(**env)
    assert fault_worker.proc is not None
    pid = fault_worker.proc.pid

    def die_once(message: Message) -> None:  # the server has the message; the worker never hears 250
        smtp.recorder.on_message = None
        os.kill(pid, signal.SIGKILL)

    smtp.recorder.on_message = die_once
    smtp.start()
    ticket = make_ticket()
    fault_worker.proc.wait(60)
    killed = ticket.deliveries.get(state="sending")
    fault_worker.start(**env)
    with beat(fault_worker, tmp_path, env):  # the sweeper recovers the claim after EMAIL_CLAIM_TIMEOUT_SECONDS
        fault_worker.wait_for(lambda: ticket.deliveries.filter(state="sent").count() == 2, timeout=60, what="sent")
    killed.refresh_from_db()
    assert killed.attempts == 2  # the lost attempt counted, then the re-send
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(ids) == 3 and ids.count(delivery_message_id(killed)) == 2  # at-least-once, recognisably the same
