"""Shared by the data migrations that follow a refit of the confidence gate (0015, 0016)."""

from typing import Any

from django.conf import settings


def move_untouched_threshold(apps: Any, previous_default: float) -> None:
    """Set the answer policy's threshold to ``ANSWER_CONFIDENCE_THRESHOLD`` when it is still
    at ``previous_default`` with no calibration note: a threshold someone set in admin or
    calibrated (``calibrate --store`` leaves a note) is left as it is. ``apps`` is the
    migration's historical app registry."""
    AnswerPolicy = apps.get_model("support", "AnswerPolicy")
    AnswerPolicy.objects.filter(pk=1, confidence_threshold=previous_default, calibration_note="").update(
        confidence_threshold=settings.ANSWER_CONFIDENCE_THRESHOLD
    )
