"""Celery tasks: thin wrappers that take ids and call one service."""

import logging
from typing import Any

logger = logging.getLogger(__name__)


def enqueue(task: Any, *args: int | str) -> bool:
    """Publish ``task(*args)``; False when the broker is unreachable (logged, never raised).

    Callers keep the work as a pending row first, so nothing is lost:
    the sweepers in ``tasks.maintenance`` re-send it once Redis is back.
    """
    try:
        task.delay(*args)
    except Exception:  # kombu raises several types when Redis is unreachable
        logger.warning("broker unavailable; %s%r stays pending until the sweeper re-enqueues it", task.name, args)
        return False
    return True
