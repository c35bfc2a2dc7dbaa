"""The email outbox: backoff, one attempt per task, the due-only sweeper, stale claims, re-sending,
the stable Message-ID and the outbox admin (real PostgreSQL; SMTP is a closed local port)."""

import random
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from support.emails import delivery_message_id
from support.models import EmailDelivery, Question, Ticket
from support.outbox import (
    EmailSendFailed,
    email_deliveries_claim_due,
    email_deliveries_enqueue_due,
    email_deliveries_recover_stale_claims,
    email_delivery_resend,
    email_delivery_send,
    email_retry_delay,
)
from support.tickets import ticket_create

pytestmark = pytest.mark.django_db


def make_ticket(email: str = "kim@example.com") -> Ticket:
    question = Question.objects.create(text="화성 탐사선 <b>일정</b>?", status=Question.Status.NO_SOURCES)
    return ticket_create(question=question, email=email, details="급합니다")


@pytest.fixture
def smtp_down(settings):  # type: ignore[no-untyped-def]
    """SMTP pointed at a closed local port: every attempt fails with a refused connection."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    return settings


@pytest.mark.parametrize(("base", "cap"), [(30.0, 3600.0), (0.5, 4.0)])
def test_retry_delay_doubles_up_to_the_cap_with_equal_jitter(settings, base: float, cap: float) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_RETRY_BASE_SECONDS, settings.EMAIL_RETRY_MAX_SECONDS = base, cap
    rng = random.Random(6)
    for retry in range(1, 15):
        ceiling = min(cap, base * 2 ** (retry - 1))
        delays = [email_retry_delay(retry, rng=rng) for _ in range(500)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (retry, min(delays), max(delays))
        # Jittered: the 500 samples spread over most of [ceiling/2, ceiling].
        assert max(delays) - min(delays) > 0.8 * ceiling / 2
    assert email_retry_delay(200, rng=rng) <= cap  # no overflow far past the cap
    with pytest.raises(ValueError):
        email_retry_delay(0)


def test_a_failed_attempt_is_rescheduled_by_backoff_and_the_row_fails_past_max_retries(smtp_down) -> None:  # type: ignore[no-untyped-def]
    smtp_down.EMAIL_MAX_RETRIES, smtp_down.EMAIL_RETRY_BASE_SECONDS, smtp_down.EMAIL_RETRY_MAX_SECONDS = 2, 10, 15
    delivery = make_ticket().deliveries.get(kind=EmailDelivery.Kind.ACKNOWLEDGEMENT)
    for attempt, ceiling in ((0, 10), (1, 15)):
        before = timezone.now()
        with pytest.raises(EmailSendFailed):
            email_delivery_send(delivery_id=delivery.pk, attempt=attempt)
        delivery.refresh_from_db()
        assert delivery.state == EmailDelivery.State.PENDING and delivery.attempts == attempt + 1
        assert "Connection refused" in delivery.last_error or "Errno" in delivery.last_error
        wait = (delivery.next_attempt_at - before).total_seconds()
        assert ceiling / 2 <= wait <= ceiling + 1
        # A task enqueued for the attempt that just failed claims nothing: no retry ahead of the backoff.
        assert email_delivery_send(delivery_id=delivery.pk, attempt=attempt) is False
    with pytest.raises(EmailSendFailed):
        email_delivery_send(delivery_id=delivery.pk, attempt=2)
    delivery.refresh_from_db()
    assert delivery.state == EmailDelivery.State.FAILED and delivery.attempts == 3  # 1 attempt + 2 retries


def test_the_same_task_delivered_three_times_sends_one_message() -> None:
    delivery = make_ticket().deliveries.get(kind=EmailDelivery.Kind.ACKNOWLEDGEMENT)
    assert [email_delivery_send(delivery_id=delivery.pk, attempt=0) for _ in range(3)] == [True, False, False]
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.state == EmailDelivery.State.SENT and delivery.attempts == 1


def test_message_id_is_derived_from_the_row_and_stable_across_a_resend(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEFAULT_FROM_EMAIL = "Help desk <help@support.example.org>"
    delivery = make_ticket().deliveries.get(kind=EmailDelivery.Kind.ACKNOWLEDGEMENT)
    assert email_delivery_send(delivery_id=delivery.pk) is True
    # A worker that died after the server accepted: the row was left ``sending`` and is recovered.
    EmailDelivery.objects.filter(pk=delivery.pk).update(
        state=EmailDelivery.State.SENDING, claimed_at=timezone.now() - timedelta(hours=1)
    )
    assert email_deliveries_recover_stale_claims(now=timezone.now()) == 1
    assert email_delivery_send(delivery_id=delivery.pk, attempt=2) is True
    ids = [m.message()["Message-ID"] for m in mail.outbox]
    assert ids == [f"<ticket-email-{delivery.pk}@support.example.org>"] * 2
    assert delivery_message_id(delivery) == ids[0]


def test_sweeper_leases_only_due_rows_and_not_again_while_queued(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_ENQUEUE_LEASE_SECONDS = 300
    now = timezone.now()
    rows = {kind: make_ticket(f"{kind}@example.com").deliveries.get(kind="ack") for kind in ("due", "later", "sent")}
    EmailDelivery.objects.filter(pk=rows["due"].pk).update(next_attempt_at=now - timedelta(seconds=1), attempts=2)
    EmailDelivery.objects.filter(pk=rows["later"].pk).update(next_attempt_at=now + timedelta(seconds=60))
    EmailDelivery.objects.filter(pk=rows["sent"].pk).update(state="sent", next_attempt_at=now - timedelta(hours=1))
    # A fresh row belongs to its on-commit enqueue for the lease: the sweeper leaves it alone.
    assert email_deliveries_claim_due(now=now) == [(rows["due"].pk, 2)]
    assert email_deliveries_claim_due(now=now) == []  # leased: its task is in the queue
    leased = EmailDelivery.objects.get(pk=rows["due"].pk).next_attempt_at
    assert leased == now + timedelta(seconds=300)
    # Once the lease runs out (the task was lost) it is due again, with every fresh row whose lease ran out.
    later = email_deliveries_claim_due(now=now + timedelta(seconds=301))
    assert (rows["due"].pk, 2) in later and len(later) == 5  # not the sent row


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_never_lease_the_same_row() -> None:
    tickets = [make_ticket(f"c{i}@example.com") for i in range(20)]
    EmailDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    barrier, results = threading.Barrier(2), []

    def sweep() -> None:
        try:
            barrier.wait()
            results.append(email_deliveries_claim_due(now=timezone.now(), limit=30))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    leased = [pk for result in results for pk, _ in result]
    assert len(leased) == len(set(leased)) == 2 * len(tickets)  # every row once, none twice


def test_broker_down_leaves_fresh_emails_due_for_the_sweeper(broker_down, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    now = timezone.now()
    assert {d.next_attempt_at <= now for d in ticket.deliveries.all()} == {True}
    assert email_deliveries_enqueue_due() == 0  # still down: nothing published, nothing leased
    assert ticket.deliveries.filter(state="pending", next_attempt_at__lte=timezone.now()).count() == 2


def test_a_stale_sending_claim_counts_as_an_attempt_and_fails_past_the_budget(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_CLAIM_TIMEOUT_SECONDS, settings.EMAIL_MAX_RETRIES = 300, 3
    now = timezone.now()
    stale, live, last = (make_ticket(f"{n}@example.com").deliveries.get(kind="ack") for n in ("s", "l", "x"))
    EmailDelivery.objects.filter(pk=stale.pk).update(state="sending", claimed_at=now - timedelta(seconds=301))
    EmailDelivery.objects.filter(pk=live.pk).update(state="sending", claimed_at=now - timedelta(seconds=299))
    EmailDelivery.objects.filter(pk=last.pk).update(state="sending", claimed_at=now - timedelta(hours=1), attempts=3)
    assert email_deliveries_recover_stale_claims(now=now) == 2
    for row in (stale, live, last):
        row.refresh_from_db()
    assert (stale.state, stale.attempts, stale.next_attempt_at) == ("pending", 1, now)
    assert "may have gone out" in stale.last_error
    assert live.state == "sending"  # its worker may still be talking to the server
    assert (last.state, last.attempts) == ("failed", 4)


def test_resend_puts_only_failed_rows_back_with_a_new_budget(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    ticket = make_ticket()
    ack, notify = ticket.deliveries.get(kind="ack"), ticket.deliveries.get(kind="notify")
    EmailDelivery.objects.filter(pk=ack.pk).update(state="failed", attempts=9, last_error="SMTP 554")
    with django_capture_on_commit_callbacks() as callbacks:
        assert email_delivery_resend(delivery=ack) is True
        assert email_delivery_resend(delivery=notify) is False  # pending, not failed
    assert len(callbacks) == 1
    ack.refresh_from_db()
    assert (ack.state, ack.attempts, ack.last_error) == ("pending", 0, "SMTP 554")
    assert email_delivery_send(delivery_id=ack.pk, attempt=0) is True


def test_outbox_admin_lists_failed_rows_with_errors_and_resends_them(
    admin_client: Client, django_capture_on_commit_callbacks: object
) -> None:
    admin_client.cookies["django_language"] = "en"
    ticket = make_ticket()
    ack = ticket.deliveries.get(kind="ack")
    EmailDelivery.objects.filter(pk=ack.pk).update(state="failed", attempts=9, last_error="<b>550 mailbox</b> full")
    outbox = reverse("admin:support_emaildelivery_changelist")
    html = admin_client.get(outbox, {"state__exact": "failed"}).content.decode()
    assert "&lt;b&gt;550 mailbox&lt;/b&gt; full" in html and "<b>550" not in html
    assert "kim@example.com" in html and "support-team@example.com" not in html  # only the failed row
    # The ticket page shows the failure prominently, linking to the filtered outbox.
    page = admin_client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    assert "Not delivered:" in page and "&lt;b&gt;550 mailbox&lt;/b&gt; full" in page
    assert f"?ticket__id__exact={ticket.pk}&amp;state__exact=failed" in page
    assert admin_client.get(outbox, {"ticket__id__exact": ticket.pk, "state__exact": "failed"}).status_code == 200
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        response = admin_client.post(
            outbox, {"action": "resend", "_selected_action": [d.pk for d in ticket.deliveries.all()]}, follow=True
        )
    assert "1 of 2 emails is back in the outbox" in response.content.decode()
    assert len(callbacks) == 1
    assert EmailDelivery.objects.get(pk=ack.pk).state == "pending"
    # Rows are evidence: object pages are view-only, nothing can be added or deleted.
    change = admin_client.get(reverse("admin:support_emaildelivery_change", args=[ack.pk])).content.decode()
    assert 'name="state"' not in change and "_save" not in change
    assert admin_client.get(reverse("admin:support_emaildelivery_add")).status_code == 403
    assert "Message-ID" in change and f"ticket-email-{ack.pk}@example.com" in change


def test_email_and_indexing_tasks_are_routed_to_separate_queues() -> None:
    """An import of 1,000 articles queues behind other indexing work, never ahead of an acknowledgement."""
    from portal.celery import app

    queues = {
        name: app.amqp.router.route({}, name)["queue"].name
        for name in (
            "tasks.support.send_ticket_email", "tasks.maintenance.sweep_emails",
            "tasks.knowledge.index_article", "tasks.maintenance.sweep_indexing",
        )
    }  # fmt: skip
    assert queues == {
        "tasks.support.send_ticket_email": "emails", "tasks.maintenance.sweep_emails": "emails",
        "tasks.knowledge.index_article": "indexing", "tasks.maintenance.sweep_indexing": "indexing",
    }  # fmt: skip
