"""Models load when a server process starts (knowledge.warmup), not in the first request."""

import pytest

from knowledge.analysis import _kiwi
from knowledge.embeddings.local import _model
from knowledge.warmup import models_warm


def test_models_warm_loads_kiwi_and_the_local_model() -> None:
    _kiwi.cache_clear()
    _model.cache_clear()
    assert _kiwi.cache_info().currsize == _model.cache_info().currsize == 0
    models_warm()
    assert _kiwi.cache_info().currsize == 1
    assert _model.cache_info().currsize == 1


@pytest.mark.worker
def test_the_celery_worker_loads_the_models_when_it_starts(celery_worker) -> None:  # type: ignore[no-untyped-def]
    celery_worker.wait_for(lambda: "models loaded in" in celery_worker.log.read_text(), timeout=60, what="warm-up")
