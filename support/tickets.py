"""Tickets: escalating a question to support staff, the acknowledgement caps, and the
chat model's draft answer that the worker writes for an escalated question.

Split from ``support.services`` (answering) by feature; both are services in the
HackSoft sense: the views, the API and the tasks call them, and they own the transaction.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import time
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from support.answering import ChatProvider, SourceExcerpt, get_chat_provider, span_start_valid
from support.models import EmailDelivery, Question, Ticket
from support.outbox import email_delivery_enqueue

logger = logging.getLogger(__name__)


REASON_BY_STATUS: dict[str, str] = {
    Question.Status.NOT_CONFIDENT: Ticket.Reason.LOW_CONFIDENCE,
    Question.Status.NO_SOURCES: Ticket.Reason.NO_SOURCES,
    Question.Status.MODEL_ERROR: Ticket.Reason.MODEL_ERROR,
}


class TicketInvalid(ValueError):
    """The ticket can't be created; the message is safe to show."""


class TicketExists(TicketInvalid):
    """The question already has an unresolved ticket; ``ticket`` is that one."""

    def __init__(self, ticket: Ticket) -> None:
        super().__init__(
            gettext("This question was already sent to support as %(reference)s.") % {"reference": ticket.reference}
        )
        self.ticket = ticket


def requester_ip_hash(ip: str) -> str:
    """Keyed hash (HMAC-SHA256 with ``SECRET_KEY``) of a client address; "" for none."""
    if not ip:
        return ""
    return hmac.new(settings.SECRET_KEY.encode(), ip.encode(), hashlib.sha256).hexdigest()


def email_normalise(email: str) -> str:
    """``email`` as mail would be delivered to it: Unicode NFKC (fullwidth ``ｅｘａｍｐｌｅ`` is
    ``example``), without invisible format characters (zero-width spaces, soft hyphens) and
    spaces at the ends, the domain lower-cased. Django's ``sanitize_address`` delivers those
    look-alikes to the same mailbox, so without this each counted as a new recipient and the
    hourly acknowledgement cap could be dodged; an internationalised domain is written in its
    IDNA (punycode) form for the same reason. Validate the result, not the raw input."""
    email = unicodedata.normalize("NFKC", email or "")
    email = "".join(ch for ch in email if unicodedata.category(ch) != "Cf").strip()
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    try:  # an internationalised domain in the ASCII form mail goes to: bücher.example = xn--bcher-kva.example
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = domain.lower()  # not a valid domain name: the validator says so
    return f"{local}{at}{domain.lower()}"


def ticket_acknowledgement_allowed(*, email: str, ip_hash: str) -> bool:
    """Whether another acknowledgement email may go out now.

    False when, in the last hour, ``email`` has already been sent
    ``TICKET_ACKS_PER_RECIPIENT_PER_HOUR`` acknowledgements, or tickets from the same
    address have been acknowledged ``TICKET_ACKS_PER_IP_PER_HOUR`` times. Counted in
    PostgreSQL, not the cache, so the caps hold while Redis is down. These caps stop the
    portal being used to mail strangers (Zendesk-style auto-reply abuse).
    """
    since = timezone.now() - timedelta(hours=1)
    to_recipient = EmailDelivery.objects.filter(
        kind=EmailDelivery.Kind.ACKNOWLEDGEMENT, recipient__iexact=email, created_at__gte=since
    ).count()
    if to_recipient >= settings.TICKET_ACKS_PER_RECIPIENT_PER_HOUR:
        return False
    if not ip_hash:
        return True
    from_address = Ticket.objects.filter(requester_ip_hash=ip_hash, ack_suppressed=False, created_at__gte=since).count()
    return from_address < settings.TICKET_ACKS_PER_IP_PER_HOUR


@transaction.atomic
def ticket_create(
    *, question: Question, email: str, details: str = "", requester_ip: str = "", language: str = ""
) -> Ticket:
    """Escalate ``question`` to a ticket; owe a notification to support and, within the caps, an acknowledgement.

    The reason follows the question's status; escalating an answered question counts as
    a customer request. Over an hourly cap (:func:`ticket_acknowledgement_allowed`) the
    ticket is still stored and support still notified, but no acknowledgement is owed
    and ``ticket.ack_suppressed`` is True. Emails are enqueued after commit. Raises
    ``TicketExists`` when the question already has an unresolved ticket and
    ``TicketInvalid`` if ``details`` exceed ``TICKET_DETAILS_MAX_CHARS``; the email
    address must be validated by the caller's form/serializer. ``language`` (the page's or
    the request's, "ko"/"en") is the customer's emails' language; "" falls back to the
    question's.
    """
    email = email_normalise(email)
    details = (details or "").strip()
    if len(details) > settings.TICKET_DETAILS_MAX_CHARS:
        raise TicketInvalid(f"Details are limited to {settings.TICKET_DETAILS_MAX_CHARS:,} characters.")
    # Lock the question row so two simultaneous escalations can't both pass the check.
    Question.objects.select_for_update().filter(pk=question.pk).first()
    existing = Ticket.objects.filter(question=question).exclude(status=Ticket.Status.CLOSED).first()
    if existing is not None:
        raise TicketExists(existing)
    reason = REASON_BY_STATUS.get(question.status, Ticket.Reason.CUSTOMER_REQUEST)
    ip_hash = requester_ip_hash(requester_ip)
    acknowledge = ticket_acknowledgement_allowed(email=email, ip_hash=ip_hash)
    ticket = Ticket.objects.create(
        question=question, email=email, details=details, reason=reason,
        requester_ip_hash=ip_hash, ack_suppressed=not acknowledge, language=language[:5],
    )  # fmt: skip
    deliveries = [
        EmailDelivery.objects.create(
            ticket=ticket, kind=EmailDelivery.Kind.NOTIFICATION, recipient=settings.SUPPORT_EMAIL
        )
    ]
    if acknowledge:
        deliveries.append(
            EmailDelivery.objects.create(ticket=ticket, kind=EmailDelivery.Kind.ACKNOWLEDGEMENT, recipient=email)
        )
    else:
        logger.warning("ticket %s: acknowledgement held back by the hourly caps", ticket.reference)
    for delivery in deliveries:
        transaction.on_commit(functools.partial(email_delivery_enqueue, delivery.pk))
    if not question.answer and question.sources and get_chat_provider().calls_model:
        transaction.on_commit(functools.partial(question_draft_enqueue, question.pk))
    return ticket


def question_draft_enqueue(question_id: int) -> None:
    """Send the staff-draft task; a broker failure only loses the draft (staff can still reply)."""
    from tasks import enqueue
    from tasks.support import draft_question_answer

    enqueue(draft_question_answer, question_id)


def question_draft_answer(*, question_id: int, provider: ChatProvider | None = None) -> bool:
    """Write the chat model's answer for an escalated question that has none, for support staff.

    Runs in the worker: questions below the confidence threshold skip the model on the
    customer's request (see ``question_answer``), so the draft staff start from is made
    here, from the sources stored with the question. Never shown to the customer. Returns
    True if a draft was written; raises ``AnswerModelError`` when the model fails (the
    task retries). Running it twice writes once (only an empty answer is filled).
    """
    question = Question.objects.filter(pk=question_id).first()
    if question is None or question.answer or not question.sources:
        return False
    provider = provider or get_chat_provider()
    excerpts = [
        SourceExcerpt(number=i, title=str(s.get("title", "")), text=str(s.get("excerpt", "")))
        for i, s in enumerate(question.sources, 1)
    ]
    started = time.perf_counter()
    generated = provider.answer(
        question=question.retrieval_query or question.text,
        sources=excerpts,
        term_weights={},
        language=question.language,
    )
    timings = question.timings_ms | {"draft": round((time.perf_counter() - started) * 1000, 2)}
    return bool(
        Question.objects.filter(pk=question_id, answer="").update(
            answer=generated.text,
            answer_kind=generated.kind,
            usage=generated.usage,
            timings_ms=timings,
            answer_span=generated.span if generated.span in generated.text else "",
            answer_span_start=span_start_valid(generated),
        )
    )
