"""Celery tasks: thin wrappers that take ids and call one service."""

import logging
import time
from typing import Any

logger = logging.getLogger(__name__)

# After a failed publish, this process skips the broker for a while: an escalation owes two
# emails, and each publish to a Redis that does not answer costs its socket timeout (the second
# is then as good as lost time). The work stays pending for the sweepers either way.
BROKER_DOWN_SECONDS = 15.0
_broker_down_until = 0.0


# Kombu's Redis transport keeps a list per priority step (0, 3, 6, 9) and a worker pops the
# lowest step first: 0 (the default) before 9. Work nobody waits for goes in at LOW_PRIORITY.
LOW_PRIORITY = 9


def enqueue(task: Any, *args: int | str, priority: int | None = None, queue: str | None = None) -> bool:
    """Publish ``task(*args)``; False when the broker is unreachable (logged, never raised).

    ``priority`` ``LOW_PRIORITY`` lets every default-priority message of the queue go first
    (the worker holds one message at a time: ``CELERY_WORKER_PREFETCH_MULTIPLIER`` 1);
    ``queue`` overrides the task's route (``CELERY_TASK_ROUTES``).
    Callers keep the work as a pending row first, so nothing is lost:
    the sweepers in ``tasks.maintenance`` re-send it once Redis is back. For
    ``BROKER_DOWN_SECONDS`` after a failure the process does not try (False at once).
    """
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        logger.info("broker down recently; %s%r stays pending for the sweeper", task.name, args)
        return False
    try:
        options: dict[str, Any] = {}
        if priority is not None:
            options["priority"] = priority
        if queue:
            options["queue"] = queue
        task.apply_async(args=args, **options)  # no options: the same as task.delay(*args)
    except Exception:  # kombu raises several types when Redis is unreachable
        logger.warning("broker unavailable; %s%r stays pending until the sweeper re-enqueues it", task.name, args)
        _broker_down_until = time.monotonic() + BROKER_DOWN_SECONDS
        return False
    return True
