from celery import shared_task
from celery.signals import worker_ready


@shared_task
def sweep_pending_work() -> dict[str, int]:
    """Re-enqueue work that a broker outage or a killed worker left behind (run by beat)."""
    from knowledge.services import articles_enqueue_pending
    from support.services import email_deliveries_enqueue_pending

    return {"articles": articles_enqueue_pending(), "emails": email_deliveries_enqueue_pending()}


@worker_ready.connect
def _sweep_on_start(**_: object) -> None:
    sweep_pending_work.delay()
