import logging

from celery import shared_task

logger = logging.getLogger(__name__)


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
    (``knowledge.selectors.sentence_centroid``), so that no customer's request does. A
    failure there is logged, not retried: the index is stored, and a request computes it."""
    from knowledge.models import Article
    from knowledge.selectors import sentence_centroid
    from knowledge.services import article_index

    done = article_index(article_id=article_id, content_hash=content_hash)
    article = Article.objects.filter(pk=article_id).values("knowledge_base_id", "language").first() if done else None
    if article is not None:
        try:
            sentence_centroid(article["knowledge_base_id"], article["language"])
        except Exception:  # the cache or the database
            logger.exception("sentence centroid after indexing article %s not computed", article_id)
    return done
