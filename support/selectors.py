"""Reads for the support app."""

from django.conf import settings

from support.models import AnswerPolicy


def answer_threshold() -> float:
    """The confidence threshold in force: the admin-editable policy row, else the setting."""
    policy = AnswerPolicy.objects.filter(pk=AnswerPolicy.SINGLETON_PK).only("confidence_threshold").first()
    return policy.confidence_threshold if policy else settings.ANSWER_CONFIDENCE_THRESHOLD
