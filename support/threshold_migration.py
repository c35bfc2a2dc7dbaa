"""Shared by the data migrations that follow a refit of the confidence gate (0015–0021, 0025)."""

from typing import Any

from django.conf import settings
from django.db import migrations


def move_untouched_threshold(previous_default: float) -> migrations.RunPython:
    """A migration operation that sets the answer policy's threshold to
    ``ANSWER_CONFIDENCE_THRESHOLD`` when it is still at ``previous_default`` with no
    calibration note: a threshold someone set in admin or calibrated (``calibrate --store``
    leaves a note) is left as it is. Reversing it does nothing."""

    def move(apps: Any, schema_editor: Any) -> None:
        AnswerPolicy = apps.get_model("support", "AnswerPolicy")
        AnswerPolicy.objects.filter(pk=1, confidence_threshold=previous_default, calibration_note="").update(
            confidence_threshold=settings.ANSWER_CONFIDENCE_THRESHOLD
        )

    return migrations.RunPython(move, migrations.RunPython.noop)
