"""Writes: the ticket workflow — status transitions, assignment, internal notes, replies.

Statuses (``Ticket.Status``): open → pending customer → answered → closed, with reopen.
``TRANSITIONS`` is the whole state machine; every function here locks the ticket row,
checks the move against it, writes the change and a ``TicketEvent`` (who, when) in one
transaction, and raises ``TransitionInvalid`` (a ``TicketInvalid``, message safe to show)
for a move the machine does not allow. Admin, pages and tasks call these; nothing else
writes a ticket's status.
"""

import functools
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from knowledge.curated import CuratedAnswerInvalid, curated_answer_create
from knowledge.models import Article
from knowledge.services import (
    AliasRejected,
    KnownGapRejected,
    article_alias_add,
    article_sentences_with,
    knowledge_base_get_live,
    known_gap_add,
)
from support.models import EmailDelivery, Ticket, TicketEvent
from support.outbox import email_delivery_enqueue
from support.services import question_normalise
from support.tickets import TicketInvalid, email_normalise

Status = Ticket.Status

# Allowed moves from each status. Reopen is closed → open; a customer message moves
# pending customer / answered back to open (``support.conversation``).
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.PENDING_CUSTOMER, Status.ANSWERED, Status.CLOSED}),
    Status.PENDING_CUSTOMER: frozenset({Status.OPEN, Status.ANSWERED, Status.CLOSED}),
    Status.ANSWERED: frozenset({Status.OPEN, Status.PENDING_CUSTOMER, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.OPEN}),
}


TICKET_WORK_PERMISSION = "support.change_ticket"  # who may be assigned a ticket (support agents, admins)


class TransitionInvalid(TicketInvalid):
    """The ticket can't move to that status from the one it is in; the message says why."""


def _reply_is_current(ticket: Ticket) -> bool:
    """A reply was sent, and the customer has written nothing since: "answered" is true. Read
    from the order of the events (ids), not from timestamps of different processes' clocks."""
    last = (
        TicketEvent.objects.filter(
            ticket_id=ticket.pk, kind__in=[TicketEvent.Kind.REPLY, TicketEvent.Kind.CUSTOMER_MESSAGE]
        )
        .order_by("-id")
        .values_list("kind", flat=True)
        .first()
    )
    return last == TicketEvent.Kind.REPLY


def ticket_next_statuses(ticket: Ticket) -> list[str]:
    """The statuses ``ticket`` may move to now, in workflow order (answered only while a reply
    answers the customer's latest message: see :func:`_move`)."""
    allowed = TRANSITIONS[ticket.status] - (set() if _reply_is_current(ticket) else {Status.ANSWERED})
    return [value for value in Status.values if value in allowed]


def _locked(ticket: Ticket) -> Ticket:
    """The ticket's row, locked for this transaction (its current state, not the caller's copy)."""
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _label(status: str) -> str:
    return str(Status(status).label)


def _move(locked: Ticket, to: str, by: Any | None) -> bool:
    """Move a locked ticket to ``to`` and record it; False when it is already there."""
    if locked.status == to:
        return False
    if to not in TRANSITIONS[locked.status]:
        raise TransitionInvalid(
            _("A ticket that is %(current)s can't become %(target)s.")
            % {"current": _label(locked.status), "target": _label(to)}
        )
    if to == Status.ANSWERED and not _reply_is_current(locked):
        # Answered means the customer has a reply to what they last wrote: otherwise the ticket
        # would drop down the queue and their page would say "answered" over their own message.
        raise TransitionInvalid(_("A ticket becomes answered when a reply is sent: write it and press “Send reply”."))
    if locked.status == Status.CLOSED:
        other = Ticket.objects.filter(question_id=locked.question_id).exclude(status=Status.CLOSED).first()
        if other is not None:  # the one-unresolved-ticket-per-question constraint
            raise TransitionInvalid(
                _("This question is already being handled in ticket %(reference)s; continue there.")
                % {"reference": other.reference}
            )
    TicketEvent.objects.create(
        ticket=locked, kind=TicketEvent.Kind.STATUS, actor=by, from_status=locked.status, to_status=to
    )
    locked.status = to
    Ticket.objects.filter(pk=locked.pk).update(status=to, updated_at=timezone.now())
    return True


@transaction.atomic
def ticket_transition(*, ticket: Ticket, to: str, by: Any | None = None) -> Ticket:
    """Move ``ticket`` to status ``to`` (a ``Ticket.Status`` value) as ``by``; returns the fresh row.

    Moving to the status it already has changes nothing. Raises ``TransitionInvalid`` for
    a move ``TRANSITIONS`` does not allow (e.g. closed → answered: reopen first), or for a
    reopen while another ticket for the same question is unresolved; ``ValueError`` for a
    value that is not a status.
    """
    Status(to)  # ValueError for an unknown status
    locked = _locked(ticket)
    _move(locked, to, by)
    return locked


def ticket_reopen(*, ticket: Ticket, by: Any | None = None) -> Ticket:
    """Closed → open (see ``ticket_transition``)."""
    return ticket_transition(ticket=ticket, to=Status.OPEN, by=by)


def ticket_close(*, ticket: Ticket, by: Any | None = None) -> Ticket:
    """Any status → closed (see ``ticket_transition``)."""
    return ticket_transition(ticket=ticket, to=Status.CLOSED, by=by)


@transaction.atomic
def ticket_assign(*, ticket: Ticket, to: Any | None, by: Any | None = None) -> bool:
    """Assign ``ticket`` to staff user ``to`` (None: unassign). Returns False if nothing changed.

    Raises ``TicketInvalid`` when ``to`` is not an active staff member who may work tickets
    (``support.change_ticket``): an assignee who can't open the ticket leaves it unworked.
    """
    if to is not None and not (to.is_active and to.is_staff and to.has_perm(TICKET_WORK_PERMISSION)):
        raise TicketInvalid(_("Tickets can only be assigned to active staff members who can work on tickets."))
    locked = _locked(ticket)
    if locked.assignee_id == (to.pk if to is not None else None):
        return False
    Ticket.objects.filter(pk=locked.pk).update(assignee=to, updated_at=timezone.now())
    TicketEvent.objects.create(
        ticket=locked, kind=TicketEvent.Kind.ASSIGNMENT, actor=by, body=to.get_username() if to is not None else ""
    )
    ticket.assignee = to
    return True


@transaction.atomic
def ticket_note_add(*, ticket: Ticket, body: str, by: Any) -> TicketEvent:
    """Add an internal note (never sent to the customer). Raises ``TicketInvalid`` if empty."""
    body = (body or "").strip()
    if not body:
        raise TicketInvalid(_("The note is empty."))
    return TicketEvent.objects.create(ticket=_locked(ticket), kind=TicketEvent.Kind.NOTE, actor=by, body=body)


@transaction.atomic
def ticket_reply(
    *, ticket: Ticket, body: str, by: Any | None = None, add_to_knowledge: bool = False, variants: str = ""
) -> EmailDelivery:
    """Send a staff reply: the ticket becomes answered and the reply is emailed through the outbox.

    ``add_to_knowledge`` also creates a draft curated answer (the question as asked,
    ``variants`` one per line, the reply, the question's language, this ticket's
    reference) for a content editor to review (``knowledge.curated``); if it can't be
    created, nothing is sent and ``TicketInvalid`` says why.

    The reply box (``reply_draft``) is emptied. Returns the outbox row (enqueued on
    commit). Raises ``TicketInvalid`` for an empty reply and ``TransitionInvalid`` for a
    closed ticket (reopen it first).
    """
    body = (body or "").strip()
    if not body:
        raise TicketInvalid(_("The reply is empty."))
    locked = _locked(ticket)
    if locked.status == Status.CLOSED:
        raise TransitionInvalid(_("This ticket is closed; reopen it before replying."))
    now = timezone.now()
    Ticket.objects.filter(pk=locked.pk).update(
        reply=body, replied_at=now, replied_by=by, updated_at=now, reply_draft="", reply_draft_edited_by=None
    )
    TicketEvent.objects.create(ticket=locked, kind=TicketEvent.Kind.REPLY, actor=by, body=body)
    _move(locked, Status.ANSWERED, by)
    if add_to_knowledge:
        question = locked.question
        try:
            curated = curated_answer_create(
                question=question.text, answer=body, language=question.language, variants=variants,
                origin_reference=locked.reference, by=by,
            )  # fmt: skip
        except CuratedAnswerInvalid as exc:
            raise TicketInvalid(str(exc)) from exc
        TicketEvent.objects.create(
            ticket=locked, kind=TicketEvent.Kind.CURATED_ANSWER, actor=by, body=f"#{curated.pk} {curated.question}"
        )
    delivery = EmailDelivery.objects.create(
        ticket=locked, kind=EmailDelivery.Kind.REPLY, recipient=locked.email, body=body
    )
    transaction.on_commit(functools.partial(email_delivery_enqueue, delivery.pk))
    ticket.refresh_from_db()
    return delivery


ARTICLE_CHANGE_PERMISSION = "knowledge.change_article"  # who may add a customer's wording to an article


@transaction.atomic
def ticket_wording_to_article(*, ticket: Ticket, article: Article, text: str, by: Any, answer: str = "") -> TicketEvent:
    """Add a customer's wording (``text``: the ticket's question as typed, or the agent's edit of
    it) to the *also asked as* lines of ``article``, the existing article that answers it
    (:func:`knowledge.services.article_alias_add`; re-indexed on commit), and record it in the
    ticket's history. An escalated question whose answer an article already holds is one the
    gate found no words or meaning for; its wording, searched with the article from then on,
    lets the next customer asking that way be answered (README, *Answer quality*: the learning
    loop, measured with ``evaluate --learn-from``).

    ``answer`` (optional) is words of the article's sentence that answers the customer: that
    sentence (:func:`knowledge.services.article_sentences_with`; the words must pick out one) is
    kept as the line's answer, which the excerpt quotes to the next customer asking this way
    (``Article.alias_answers``).

    Raises ``TicketInvalid`` when ``by`` may not change articles (``ARTICLE_CHANGE_PERMISSION``),
    the line is refused (``AliasRejected``: blank, already there, a support answer, full) or
    ``answer`` is in no sentence of the article, or in more than one.
    """
    if not by.has_perm(ARTICLE_CHANGE_PERMISSION):
        raise TicketInvalid(_("Only staff who may change articles can add a customer's wording to one."))
    found = article_sentences_with(article, answer)
    if answer.strip() and not found:
        raise TicketInvalid(
            _("“%(answer)s” is not in a sentence of “%(title)s”; copy the words from the article.")
            % {"answer": answer.strip(), "title": article.title}
        )
    if len(found) > 1:  # "14일" stands in the return window and in the exchange window alike
        raise TicketInvalid(
            _("“%(answer)s” is in %(count)d sentences of “%(title)s”; copy more words of the one that answers.")
            % {"answer": answer.strip(), "count": len(found), "title": article.title}
        )
    sentence = found[0] if found else ""
    locked = _locked(ticket)
    try:
        changed = article_alias_add(article_id=article.pk, text=text, answer=sentence)
    except AliasRejected as exc:
        raise TicketInvalid(str(exc)) from exc
    line = changed.aliases.splitlines()[-1]
    return TicketEvent.objects.create(
        ticket=locked, kind=TicketEvent.Kind.ALIAS, actor=by, body=f"{line} → {changed.title}"
    )


GAP_ADD_PERMISSION = "knowledge.add_knowngap"  # who may remember a question as one no article answers


@transaction.atomic
def ticket_wording_to_gap(*, ticket: Ticket, text: str, by: Any) -> TicketEvent:
    """Remember a customer's wording (``text``: the ticket's question as typed, or the agent's
    edit of it) as a question no article of the help centre answers
    (:func:`knowledge.services.known_gap_add`), and record it in the ticket's history. From then
    on a customer asking alike is escalated at once instead of answered from a near-topic
    article (README, *Answer quality*: known gaps, measured with ``evaluate --learn-from``).

    Raises ``TicketInvalid`` when ``by`` may not add known gaps (``GAP_ADD_PERMISSION``) or the
    wording is refused (``KnownGapRejected``: blank, already a known gap, not embeddable now).
    """
    if not by.has_perm(GAP_ADD_PERMISSION):
        raise TicketInvalid(_("Only staff who may add known gaps can remember a question as one no article answers."))
    locked = _locked(ticket)
    try:
        gap = known_gap_add(knowledge_base=knowledge_base_get_live(), text=text, created_by=by)
    except KnownGapRejected as exc:
        raise TicketInvalid(str(exc)) from exc
    return TicketEvent.objects.create(ticket=locked, kind=TicketEvent.Kind.GAP, actor=by, body=gap.text)


def tickets_assign(*, tickets: Iterable[Ticket], to: Any, by: Any | None = None) -> int:
    """Assign each of ``tickets`` to ``to`` (the admin's "assign to me"); returns how many changed."""
    return sum(ticket_assign(ticket=t, to=to, by=by) for t in tickets)


@transaction.atomic
def ticket_reply_draft_save(*, ticket: Ticket, body: str, by: Any) -> None:
    """Keep the agent's unsent reply text. From now on a generated draft won't replace it
    (``reply_draft_edited_by`` is set); saving an empty box hands the box back to drafts."""
    body = (body or "").strip()
    locked = _locked(ticket)
    Ticket.objects.filter(pk=locked.pk).update(reply_draft=body, reply_draft_edited_by=by if body else None)
    ticket.reply_draft, ticket.reply_draft_edited_by = body, (by if body else None)


def customer_message_clean(body: str) -> str:
    """``body`` normalised as a question is (:func:`support.services.question_normalise`: NFC,
    no whitespace or zero-width characters at the ends); raise ``TicketInvalid`` if that
    leaves it empty or over ``TICKET_MESSAGE_MAX_CHARS``.

    The text is stored as typed and escaped wherever it is shown (pages, emails, admin).
    """
    body = question_normalise(body)
    if not body:
        raise TicketInvalid(_("Please type a message."))
    limit = settings.TICKET_MESSAGE_MAX_CHARS
    if len(body) > limit:
        raise TicketInvalid(
            _("Messages are limited to %(limit)s characters; yours has %(count)s.")
            % {"limit": f"{limit:,}", "count": f"{len(body):,}"}
        )
    return body


@transaction.atomic
def ticket_escalated_again(*, ticket: Ticket, email: str, details: str) -> bool:
    """The customer escalated the question of ``ticket`` (unresolved) once more: what they wrote
    this time that the ticket lacks (new details, another reply address) becomes a customer
    message on it. Returns whether anything was added. Nothing is added twice (a repeated
    submission: checked with the ticket row locked, so two at once add one); details that would
    pass ``TICKET_MESSAGE_MAX_CHARS`` with the reply-address line are cut to fit; a closed ticket
    adds nothing; nothing raises. It had been dropped without a word, on the page and the API.
    The reply-address line is written in the ticket's language, whatever the request's, and the
    text and address are compared normalised (NFC; the address lower-cased), so the page
    (Korean) and the widget (English), or a Mac's decomposed Hangul, cannot add it twice."""
    said = question_normalise(details)  # NFC: decomposed Korean (macOS) is the same text, not new
    said = said if said != question_normalise(ticket.details) else ""
    reply_to = ""
    address = email_normalise(email).lower()  # one mailbox, however it is cased: added once
    if address != ticket.email.lower():
        with translation.override(ticket.language or settings.LANGUAGE_CODE):
            reply_to = _("(Reply to: %(email)s)") % {"email": address}
    room = settings.TICKET_MESSAGE_MAX_CHARS - (len(reply_to) + 1 if reply_to else 0)
    said = said if len(said) <= room else said[: max(room - 1, 0)] + "…"
    body = "\n".join(part for part in (said, reply_to) if part)
    if not body:
        return False
    locked = _locked(ticket)
    if locked.events.filter(kind=TicketEvent.Kind.CUSTOMER_MESSAGE, body=body).exists():
        return False  # the same second thoughts, sent again
    try:
        with transaction.atomic():  # a refusal (closed meanwhile) leaves the outer transaction usable
            ticket_customer_message_add(ticket=ticket, body=body)
    except TicketInvalid:
        return False
    return True


@transaction.atomic
def ticket_customer_message_add(*, ticket: Ticket, body: str) -> TicketEvent:
    """The customer adds a message to their ticket; support is notified through the outbox.

    A ticket that is pending customer or answered goes back to open (the customer is
    waiting again). The caller proves ownership (session or signed link). Raises
    ``TicketInvalid`` for an empty or over-long message and ``TransitionInvalid`` for a
    closed ticket (the customer asks a new question instead).
    """
    body = customer_message_clean(body)
    locked = _locked(ticket)
    if locked.status == Status.CLOSED:
        raise TransitionInvalid(_("This ticket is closed. Please ask a new question instead."))
    event = TicketEvent.objects.create(ticket=locked, kind=TicketEvent.Kind.CUSTOMER_MESSAGE, body=body)
    if locked.status in (Status.PENDING_CUSTOMER, Status.ANSWERED):
        _move(locked, Status.OPEN, None)
    delivery = EmailDelivery.objects.create(
        ticket=locked, kind=EmailDelivery.Kind.CUSTOMER_MESSAGE, recipient=settings.SUPPORT_EMAIL, body=body
    )
    transaction.on_commit(functools.partial(email_delivery_enqueue, delivery.pk))
    ticket.status = locked.status
    return event
