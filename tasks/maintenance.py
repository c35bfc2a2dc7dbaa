from celery import shared_task
from celery.signals import worker_ready


@shared_task
def sweep_emails() -> int:
    """Enqueue owed emails that are due (retries, broker outages, dead workers); run by beat."""
    from support.outbox import email_deliveries_enqueue_due

    return email_deliveries_enqueue_due()


@shared_task
def sweep_indexing() -> int:
    """Enqueue articles whose indexing a broker outage or a dead worker left behind; run by beat."""
    from knowledge.services import articles_enqueue_pending

    return articles_enqueue_pending()


@worker_ready.connect
def _sweep_on_start(**_: object) -> None:
    from tasks import enqueue

    enqueue(sweep_emails)
    enqueue(sweep_indexing)
