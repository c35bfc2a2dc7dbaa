import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def send_ticket_email(delivery_id: int, attempt: int | None = None) -> bool:
    """Make one attempt at one owed ticket email (``support.outbox.email_delivery_send``).

    No Celery retries: a failed attempt is rescheduled on the outbox row and the sweeper
    enqueues it again when it is due. ``attempt`` is the row's attempt count when this
    task was enqueued (None: whatever it is now, for tasks published by older code).
    """
    from support.outbox import EmailSendFailed, email_delivery_send

    try:
        return email_delivery_send(delivery_id=delivery_id, attempt=attempt)
    except EmailSendFailed as exc:
        logger.warning("ticket email not sent: %s", exc)
        return False


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_jitter=True, max_retries=3)
def draft_question_answer(question_id: int) -> bool:
    """Write the staff draft for an escalated question (``support.tickets.question_draft_answer``)."""
    from support.tickets import question_draft_answer

    return question_draft_answer(question_id=question_id)


@shared_task(acks_late=True)
def draft_ticket_reply(ticket_id: int, language: str = "") -> bool:
    """Write the "Draft reply" an agent asked for (``support.drafting.ticket_draft_write``);
    what the ticket says to staff (a failure's reason) in ``language``, the admin's when they
    asked (the worker's default, Korean, had shown in the English admin). The draft itself is
    in the customer's language.

    No Celery retries: a failed draft says why on the ticket and the agent asks again.
    """
    from django.utils import translation

    from support.drafting import ticket_draft_write

    with translation.override(language or None):
        return ticket_draft_write(ticket_id=ticket_id)
