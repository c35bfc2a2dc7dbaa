"""Writes: "Draft reply" on a ticket — requested by an agent, written by the Celery worker.

The draft is written from the sources retrieved for the question now, by the chat model
when one is configured (``CHAT_PROVIDER=openai``) or else extractively (an excerpt with
its citation). It fills the reply box only while no agent has edited the box
(``Ticket.reply_draft_edited_by`` is empty), by a conditional UPDATE, so a draft never
overwrites an agent's text; it is always kept in ``draft_text`` with its sources. If the
chat model fails, the ticket says so (``draft_state=failed``, ``draft_error``) and
nothing else changes.
"""

import functools
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from knowledge.chunking import plain_text
from support.answering import AnswerModelError, ChatProvider, get_chat_provider, source_excerpts
from support.assist import AssistUnavailable, question_retrieve_now, retrieval_sources
from support.confidence import retrieval_confidence
from support.models import Ticket, TicketEvent
from support.selectors import answer_threshold
from support.services import question_search_text
from support.tickets import TicketInvalid

logger = logging.getLogger(__name__)


@transaction.atomic
def ticket_draft_request(*, ticket: Ticket, by: Any | None = None) -> None:
    """Ask the worker for a draft reply (enqueued on commit); the ticket shows "being written".

    Raises ``TicketInvalid`` for a closed ticket. Asking again while one is being written
    starts another run; whichever finishes last is kept as ``draft_text``.
    """
    if Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.CLOSED).exists():
        raise TicketInvalid(_("This ticket is closed; reopen it before drafting a reply."))
    Ticket.objects.filter(pk=ticket.pk).update(
        draft_state=Ticket.DraftState.PENDING, draft_error="", draft_requested_at=timezone.now()
    )
    language = translation.get_language() or settings.LANGUAGE_CODE  # the agent's: for what the ticket says to them
    transaction.on_commit(functools.partial(ticket_draft_enqueue, ticket.pk, language))


def ticket_draft_enqueue(ticket_id: int, language: str = "") -> None:
    """Send the draft task (staff-facing messages in ``language``); with the broker down the
    ticket says so (the agent can ask again)."""
    from tasks import enqueue
    from tasks.support import draft_ticket_reply

    if not enqueue(draft_ticket_reply, ticket_id, language):
        Ticket.objects.filter(pk=ticket_id, draft_state=Ticket.DraftState.PENDING).update(
            draft_state=Ticket.DraftState.FAILED,
            draft_error=_("The worker could not be reached; please try “Draft reply” again in a moment."),
        )


def _cited_footer(sources: list[dict[str, Any]]) -> str:
    lines = [f"[{s['number']}] {s['title']} — {settings.SITE_URL}{s['url']}" for s in sources]
    return "\n".join([_("Sources:"), *lines])


def ticket_draft_write(*, ticket_id: int, provider: ChatProvider | None = None) -> bool:
    """Write the requested draft for ticket ``ticket_id`` (in the worker). Returns True if written.

    Does nothing unless a draft is pending (a repeated task is harmless). Outcomes:
    ``ready`` with ``draft_text`` (answer + numbered sources used), ``draft_kind`` and
    ``draft_sources``, and the reply box filled if no agent edited it; or ``failed``
    with a message for staff when there are no sources, retrieval fails, the chat
    model fails (``AnswerModelError`` is not re-raised: the agent decides when to retry),
    or, without a chat model, the sources are below the confidence threshold the customer
    page answers from (``support.selectors.answer_threshold``; an excerpt there is no reply).
    """
    ticket = Ticket.objects.select_related("question").filter(pk=ticket_id).first()
    if ticket is None or ticket.draft_state != Ticket.DraftState.PENDING:
        return False
    pending = Ticket.objects.filter(pk=ticket_id, draft_state=Ticket.DraftState.PENDING)
    try:
        retrieval = question_retrieve_now(ticket.question)
    except AssistUnavailable as exc:
        pending.update(draft_state=Ticket.DraftState.FAILED, draft_error=str(exc))
        return False
    if not retrieval.chunks:
        pending.update(
            draft_state=Ticket.DraftState.FAILED,
            draft_error=_("No help article matches this question, so there is nothing to draft from."),
        )
        return False
    sources = retrieval_sources(retrieval)
    excerpts = source_excerpts(retrieval.chunks)  # numbered as ``sources``
    provider = provider or get_chat_provider()
    asked = question_search_text(ticket.question.text)  # as the customer path reads it (it has words: sources)
    confidence = retrieval_confidence(retrieval, asked)
    if not provider.calls_model and confidence < (threshold := answer_threshold()):
        # An excerpt the customer page would not show is no reply: it had filled the box with an
        # unrelated article, in its own language. A chat model reads the sources and may decline.
        pending.update(
            draft_state=Ticket.DraftState.FAILED,
            draft_error=_(
                "No draft: the nearest article, “%(title)s”, answers this question only at confidence "
                "%(confidence).2f (the customer page answers from %(threshold).2f). Please write the reply yourself."
            )
            % {"title": sources[0]["title"], "confidence": confidence, "threshold": threshold},
        )
        return False
    try:
        generated = provider.answer(
            question=asked, sources=excerpts, term_weights=retrieval.term_weights,
            language=ticket.question.language, query_vector=retrieval.query_vector,
        )  # fmt: skip
    except AnswerModelError as exc:
        logger.warning("draft for ticket %s: answer model failed (%s): %s", ticket.reference, exc.code, exc)
        pending.update(
            draft_state=Ticket.DraftState.FAILED,
            draft_error=_("The chat model is unavailable right now (%(code)s). Your reply is kept; try again later.")
            % {"code": exc.code},
        )
        return False
    if not generated.text.strip():
        pending.update(
            draft_state=Ticket.DraftState.FAILED,
            draft_error=_("The sources found do not answer this question; please write the reply yourself."),
        )
        return False
    used = [s for s in sources if s["number"] in generated.cited] or sources
    # An excerpt is Markdown from the article; the reply is a plain-text email ("**14 days**" showed as typed).
    answer = plain_text(generated.text) if generated.kind == "extractive" else generated.text.strip()
    with translation.override(ticket.question.language or settings.LANGUAGE_CODE):  # the reply's language
        text = f"{answer}\n\n{_cited_footer(used)}"
    with transaction.atomic():
        written = pending.update(
            draft_state=Ticket.DraftState.READY, draft_text=text, draft_kind=generated.kind, draft_sources=used,
            draft_error="", draft_generated_at=timezone.now(),
        )  # fmt: skip
        if written:
            Ticket.objects.filter(pk=ticket_id, reply_draft_edited_by__isnull=True).update(reply_draft=text)
            TicketEvent.objects.create(ticket_id=ticket_id, kind=TicketEvent.Kind.DRAFT, body=text)
    return bool(written)
