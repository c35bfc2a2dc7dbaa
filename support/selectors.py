"""Reads for the support app."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext as _

from support.models import AnswerPolicy, Question, Ticket, TicketEvent


def answer_threshold() -> float:
    """The confidence threshold in force: the admin-editable policy row, else the setting."""
    policy = AnswerPolicy.objects.filter(pk=AnswerPolicy.SINGLETON_PK).only("confidence_threshold").first()
    return policy.confidence_threshold if policy else settings.ANSWER_CONFIDENCE_THRESHOLD


def ticket_conversation(ticket: Ticket) -> list[TicketEvent]:
    """What the customer may see of a ticket's history: staff replies and their own
    messages, oldest first (never notes, drafts or assignments)."""
    shown = [TicketEvent.Kind.REPLY, TicketEvent.Kind.CUSTOMER_MESSAGE]
    return list(ticket.events.filter(kind__in=shown).order_by("created_at", "id"))


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a ticket's history: when, who (a staff username, the customer's
    address, or "portal"), what happened, the text involved, and whether it is staff-only."""

    at: datetime
    who: str
    what: str
    text: str = ""
    internal: bool = False


def answer_kind_label(kind: str) -> str:
    """``Question.answer_kind`` / ``Ticket.draft_kind`` for staff, in the active language
    ("extractive" had shown as it is stored, in the Korean admin too); an unknown kind as is."""
    labels = {"extractive": _("an excerpt from the articles"), "llm": _("written by the chat model")}
    return str(labels.get(kind, kind or "-"))


def ticket_history(ticket: Ticket) -> list[HistoryEntry]:
    """Everything that happened to ``ticket``, oldest first: the question and its automatic
    answer, the escalation, every ``TicketEvent`` (status changes, assignments, notes,
    replies, customer messages, drafts) and every email of the outbox. Three queries."""
    question = ticket.question
    portal = str(_("portal"))
    entries = [HistoryEntry(question.created_at, ticket.email, str(_("Question asked")), question.text)]
    if question.answer:
        what = _("Automatic answer (%(kind)s)") % {"kind": answer_kind_label(question.answer_kind)}
        entries.append(HistoryEntry(question.created_at, portal, what, question.answer, internal=True))
    opened = _("Sent to support (%(reason)s)") % {"reason": ticket.get_reason_display()}
    entries.append(HistoryEntry(ticket.created_at, ticket.email, opened, ticket.details))
    for event in ticket.events.select_related("actor"):
        who = event.actor.get_username() if event.actor else ticket.email
        if event.actor is None and event.kind != TicketEvent.Kind.CUSTOMER_MESSAGE:
            who = portal
        what = str(event.get_kind_display())
        if event.kind == TicketEvent.Kind.STATUS:
            what = _("Status: %(from)s → %(to)s") % {
                "from": Ticket.Status(event.from_status).label, "to": Ticket.Status(event.to_status).label,
            }  # fmt: skip
        elif event.kind == TicketEvent.Kind.ASSIGNMENT:
            what = _("Assigned to %(user)s") % {"user": event.body} if event.body else _("Unassigned")
        internal = event.kind not in (TicketEvent.Kind.REPLY, TicketEvent.Kind.CUSTOMER_MESSAGE)
        text = "" if event.kind == TicketEvent.Kind.ASSIGNMENT else event.body
        entries.append(HistoryEntry(event.created_at, who, str(what), text, internal=internal))
    for delivery in ticket.deliveries.all():
        what = _("Email %(kind)s to %(recipient)s: %(state)s") % {
            "kind": delivery.get_kind_display(), "recipient": delivery.recipient, "state": delivery.get_state_display(),
        }  # fmt: skip
        entries.append(HistoryEntry(delivery.sent_at or delivery.created_at, portal, what, delivery.last_error))
    return sorted(entries, key=lambda e: e.at)


def conversation_turns(question: Question) -> list[Question]:
    """The turns of ``question``'s conversation up to and including it, oldest first (one
    query); just ``[question]`` for one asked outside a conversation."""
    if question.conversation_id is None:
        return [question]
    return list(
        Question.objects.filter(conversation_id=question.conversation_id, turn__lte=question.turn).order_by("turn")
    )


def ticket_turns(ticket: Ticket) -> list[Question]:
    """The turns of the ticket's conversation up to and including its question, oldest first."""
    return conversation_turns(ticket.question)
