from celery import shared_task


@shared_task(bind=True, max_retries=5, acks_late=True)
def index_article(self, article_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Index one article (``knowledge.services.article_index``); retried with backoff on failure."""
    from knowledge.services import article_index

    try:
        return article_index(article_id=article_id)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=min(300, 10 * 2**self.request.retries)) from exc
