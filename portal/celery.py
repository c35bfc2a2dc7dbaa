"""The Celery app: configured from Django settings (``CELERY_*``), tasks live in ``tasks/``."""

import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")


# Load the embedding model and Kiwi when a worker process starts, not in its first task.
# Prefork: in each child after the fork (OpenMP state must not cross a fork). Solo and
# thread pools run tasks in the main process, which has no worker_process_init.
@worker_process_init.connect
def _warm_child(**_: Any) -> None:
    from knowledge.warmup import models_warm

    models_warm()


@worker_ready.connect
def _warm_main(sender: Any = None, **_: Any) -> None:
    if "prefork" not in type(getattr(sender, "pool", None)).__module__:
        from knowledge.warmup import models_warm

        models_warm()
