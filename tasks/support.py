from celery import shared_task


@shared_task(bind=True, max_retries=8, acks_late=True)
def send_ticket_email(self, delivery_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Send one owed ticket email exactly once; SMTP failures retry with exponential backoff."""
    from support.services import EmailSendFailed, email_delivery_give_up, email_delivery_send

    try:
        return email_delivery_send(delivery_id=delivery_id)
    except EmailSendFailed as exc:
        if self.request.retries >= self.max_retries:
            email_delivery_give_up(delivery_id=delivery_id, error=str(exc))
            raise
        raise self.retry(exc=exc, countdown=min(600, 5 * 2**self.request.retries)) from exc


@shared_task(bind=True, acks_late=True, autoretry_for=(Exception,), retry_backoff=30, retry_jitter=True, max_retries=3)
def draft_question_answer(self, question_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Write the staff draft for an escalated question (``support.services.question_draft_answer``)."""
    from support.services import question_draft_answer

    return question_draft_answer(question_id=question_id)
