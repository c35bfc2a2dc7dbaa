"""Writes for the email outbox: enqueueing, one attempt per task, backoff, sweeping, re-sending.

Exactly one mechanism owns retries: the row. A task makes a single attempt; a failed
attempt writes ``next_attempt_at`` (exponential backoff with jitter) and the sweeper
(``tasks.maintenance.sweep_emails``, run by beat) enqueues only rows that are due, leasing
each one so that a queued task is not enqueued again on every sweep.

Guarantee: at-least-once with a stable ``Message-ID`` (``support.emails.delivery_message_id``).
SMTP has no idempotency key, so a worker that dies after the server accepted a message but
before the row says ``sent`` causes one re-send, with the same Message-ID, after
``EMAIL_CLAIM_TIMEOUT_SECONDS``. Every other path sends once: a task carries the attempt
number it was enqueued for and claims the row with a conditional UPDATE on it.
"""

import functools
import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from support.models import EmailDelivery

logger = logging.getLogger(__name__)


class EmailSendFailed(RuntimeError):
    """The attempt failed; the row is rescheduled (or failed) and says why in ``last_error``."""


def email_retry_delay(retry: int, *, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first retry).

    Exponential backoff with "equal jitter" from Marc Brooker, "Exponential Backoff And
    Jitter", AWS Architecture Blog, 2015
    (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):
    ``ceiling = min(cap, base * 2 ** (retry - 1))``, delay uniform in
    ``[ceiling / 2, ceiling]``. Equal rather than full jitter keeps a floor under each
    wait, so a server that is down is not retried at once; the jitter still spreads a
    burst of failures. ``base``/``cap`` are ``EMAIL_RETRY_BASE_SECONDS`` /
    ``EMAIL_RETRY_MAX_SECONDS``.
    """
    if retry < 1:
        raise ValueError(f"retry numbers start at 1, got {retry}")
    base, cap = settings.EMAIL_RETRY_BASE_SECONDS, settings.EMAIL_RETRY_MAX_SECONDS
    ceiling = min(cap, base * 2 ** min(retry - 1, 62))  # the exponent bound keeps floats finite
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def email_delivery_enqueue(delivery_id: int, attempt: int = 0) -> bool:
    """Publish the email task for ``attempt``; if the broker is down, make the row due now.

    The row stays ``pending`` either way, so nothing is lost: the sweeper enqueues it
    when it is due (see ``tasks.enqueue``). Returns whether the task was published.
    """
    from tasks import enqueue
    from tasks.support import send_ticket_email

    if enqueue(send_ticket_email, delivery_id, attempt):
        return True
    EmailDelivery.objects.filter(pk=delivery_id, state=EmailDelivery.State.PENDING, attempts=attempt).update(
        next_attempt_at=timezone.now()
    )
    return False


def email_delivery_send(*, delivery_id: int, attempt: int | None = None) -> bool:
    """Make one attempt at one owed email. Returns True if this call sent it.

    Claims the row with ``UPDATE … WHERE state = 'pending' AND attempts = <attempt>``, so
    of several deliveries of the same task only one attempts, and a task enqueued for an
    earlier attempt does nothing (``attempt=None``, for calls by hand, claims any pending
    row). On failure the row records the error, ``attempts + 1`` and ``next_attempt_at``
    (``email_retry_delay``), or becomes ``failed`` once the first attempt and
    ``EMAIL_MAX_RETRIES`` retries have failed; then ``EmailSendFailed`` is raised.
    """
    from support.emails import send_delivery

    now = timezone.now()
    rows = EmailDelivery.objects.filter(pk=delivery_id, state=EmailDelivery.State.PENDING)
    if attempt is not None:
        rows = rows.filter(attempts=attempt)
    if not rows.update(state=EmailDelivery.State.SENDING, claimed_at=now):
        return False
    delivery = EmailDelivery.objects.select_related("ticket__question").get(pk=delivery_id)
    attempts = delivery.attempts + 1
    try:
        send_delivery(delivery)
    except Exception as exc:
        error = repr(exc)[:1000]
        if attempts > settings.EMAIL_MAX_RETRIES:
            EmailDelivery.objects.filter(pk=delivery_id).update(
                state=EmailDelivery.State.FAILED, attempts=attempts, last_error=error
            )
        else:
            EmailDelivery.objects.filter(pk=delivery_id).update(
                state=EmailDelivery.State.PENDING,
                attempts=attempts,
                last_error=error,
                next_attempt_at=timezone.now() + timedelta(seconds=email_retry_delay(attempts)),
            )
        raise EmailSendFailed(f"attempt {attempts} of {delivery}: {exc}") from exc
    EmailDelivery.objects.filter(pk=delivery_id).update(
        state=EmailDelivery.State.SENT, sent_at=timezone.now(), attempts=attempts, last_error=""
    )
    return True


def email_deliveries_recover_stale_claims(*, now: datetime) -> int:
    """Give back rows left ``sending`` longer than ``EMAIL_CLAIM_TIMEOUT_SECONDS`` (worker died).

    The lost attempt counts: the row is due again (or ``failed`` past the retry budget).
    It may already have been delivered; the re-send carries the same Message-ID.
    """
    stale = EmailDelivery.objects.filter(
        state=EmailDelivery.State.SENDING,
        claimed_at__lt=now - timedelta(seconds=settings.EMAIL_CLAIM_TIMEOUT_SECONDS),
    )
    error = "the worker was lost while sending; the message may have gone out and is sent again with its Message-ID"
    failed = stale.filter(attempts__gte=settings.EMAIL_MAX_RETRIES).update(
        state=EmailDelivery.State.FAILED, attempts=F("attempts") + 1, last_error=error
    )
    retried = stale.update(
        state=EmailDelivery.State.PENDING, attempts=F("attempts") + 1, last_error=error, next_attempt_at=now
    )
    return failed + retried


def email_deliveries_claim_due(*, now: datetime, limit: int = 500) -> list[tuple[int, int]]:
    """Lease up to ``limit`` due rows for enqueueing; returns ``[(id, attempts), …]``.

    Due means ``pending`` and ``next_attempt_at <= now``. Rows are locked with ``FOR UPDATE
    SKIP LOCKED`` and pushed ``EMAIL_ENQUEUE_LEASE_SECONDS`` ahead in one transaction, so
    concurrent sweeps never lease the same row, and a row whose task waits in the queue is
    not leased again until the lease runs out.
    """
    lease_until = now + timedelta(seconds=settings.EMAIL_ENQUEUE_LEASE_SECONDS)
    with transaction.atomic():
        due = list(
            EmailDelivery.objects.select_for_update(skip_locked=True)
            .filter(state=EmailDelivery.State.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("pk", "attempts")[:limit]
        )
        EmailDelivery.objects.filter(pk__in=[pk for pk, _ in due]).update(next_attempt_at=lease_until)
    return due


def email_deliveries_enqueue_due(*, limit: int = 500) -> int:
    """The sweeper: recover stale claims, then enqueue every due row once. Returns how many.

    If the broker fails mid-way, the rows not yet enqueued are made due again and the
    sweep stops (the next one retries them).
    """
    now = timezone.now()
    email_deliveries_recover_stale_claims(now=now)
    due = email_deliveries_claim_due(now=now, limit=limit)
    for done, (pk, attempts) in enumerate(due):
        if not email_delivery_enqueue(pk, attempts):
            # email_delivery_enqueue made this row due again; the rest of the batch too:
            rest = [pk for pk, _ in due[done + 1 :]]
            EmailDelivery.objects.filter(pk__in=rest, state=EmailDelivery.State.PENDING).update(next_attempt_at=now)
            return done
    return len(due)


@transaction.atomic
def email_delivery_resend(*, delivery: EmailDelivery) -> bool:
    """Put a ``failed`` email back in the outbox with a new retry budget, enqueued on commit.

    Returns False (and changes nothing) unless the row is ``failed``. ``last_error`` is
    kept until the next attempt, so staff still see why it failed. The Message-ID stays
    the same, so a recipient who did get an earlier attempt can recognise the repeat.
    """
    updated = EmailDelivery.objects.filter(pk=delivery.pk, state=EmailDelivery.State.FAILED).update(
        state=EmailDelivery.State.PENDING,
        attempts=0,
        claimed_at=None,
        next_attempt_at=timezone.now() + timedelta(seconds=settings.EMAIL_ENQUEUE_LEASE_SECONDS),
    )
    if updated:
        transaction.on_commit(functools.partial(email_delivery_enqueue, delivery.pk, 0))
    return bool(updated)
