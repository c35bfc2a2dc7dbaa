from celery import shared_task


# Celery retries exceptions (an embedding provider that is down) with exponential backoff
# and full jitter; the article's own budget is INDEX_MAX_ATTEMPTS claims (a process that
# dies raises nothing Celery could count), so a retry past it claims nothing and stops.
@shared_task(
    acks_late=True,
    autoretry_for=(Exception,),
    max_retries=5,
    retry_backoff=10,
    retry_backoff_max=300,
    retry_jitter=True,
)
def index_article(article_id: int, content_hash: str | None = None) -> bool:
    """Index version ``content_hash`` of one article (``knowledge.services.article_index``),
    then compute its language's sentence centroid into the cache
    (``knowledge.selectors.sentence_centroid``), so that no customer's request does."""
    from knowledge.services import article_index, sentence_centroid_warm

    done = article_index(article_id=article_id, content_hash=content_hash)
    if done:
        sentence_centroid_warm(article_id=article_id)
    return done
