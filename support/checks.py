"""System checks: the confidence weights were fitted for the configuration that runs.

The logistic weights (``CONFIDENCE_WEIGHTS``) only mean something for the embedding
model, fusion, chunking and features they were fitted with; ``calibrate --fit-weights``
prints both lines to ship. A mismatch is a warning at start-up (``manage.py check``,
``runserver``, the worker) and a note on the answer policy in admin.
"""

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


def confidence_configuration() -> dict[str, str]:
    """What the confidence weights depend on, as strings (compared with ``CONFIDENCE_WEIGHTS_FITTED_FOR``)."""
    from knowledge.embeddings import get_provider
    from support.confidence import FEATURES

    return {
        "embedding_model": get_provider().name,
        "features": ",".join(FEATURES),
        "retrieval_fusion": str(settings.RETRIEVAL_FUSION),
        "retrieval_dense_weight": f"{settings.RETRIEVAL_DENSE_WEIGHT:g}",
        "retrieval_sentence_weight": f"{settings.RETRIEVAL_SENTENCE_WEIGHT:g}",
        "retrieval_alias_weight": f"{settings.RETRIEVAL_ALIAS_WEIGHT:g}",
        "retrieval_proximity_weight": f"{settings.RETRIEVAL_PROXIMITY_WEIGHT:g}",
        "lexical_scoring": str(settings.LEXICAL_SCORING),
        "chunk_tokens": str(settings.CHUNK_TOKENS),
        "chunk_tokenizer": str(settings.CHUNK_TOKENIZER),
    }


def confidence_weights_mismatch() -> list[str]:
    """``"name: fitted for A, running B"`` for every setting that differs from the weights' fit."""
    fitted = settings.CONFIDENCE_WEIGHTS_FITTED_FOR
    running = confidence_configuration()
    return [
        f"{name}: fitted for {fitted[name]!r}, running {value!r}"
        for name, value in running.items()
        if name in fitted and str(fitted[name]) != value
    ]


@register()
def check_confidence_weights(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    differences = confidence_weights_mismatch()
    if not differences:
        return []
    return [
        Warning(
            "The confidence weights were fitted for another configuration: " + "; ".join(differences),
            hint="Re-fit them: manage.py calibrate --fit-weights (README, answer quality), or restore the settings.",
            id="support.W001",
        )
    ]
