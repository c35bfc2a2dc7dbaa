"""Writes: customer feedback on an answer ("Did this answer your question?").

One feedback row per question. Giving feedback again updates it (verdict and comment),
so the dashboard counts each answer once, with the customer's latest verdict. Only an
answer the customer was shown can be rated: questions whose answer was withheld (the
portal was not confident) have nothing to rate.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from support.models import Feedback, Question


class FeedbackInvalid(ValueError):
    """The feedback can't be stored; the message says why and is safe to show."""


class FeedbackNotAllowed(FeedbackInvalid):
    """The question has no answer shown to the customer, so there is nothing to rate."""


@dataclass
class FeedbackOutcome:
    feedback: Feedback
    created: bool  # False: an earlier verdict on the same question was replaced


def feedback_allowed(question: Question) -> bool:
    """True when the customer was shown an answer (status ``answered``), the only thing feedback rates."""
    return question.status == Question.Status.ANSWERED and not question.escalation_recommended


@transaction.atomic
def feedback_record(*, question: Question, helpful: bool, comment: str = "", channel: str = "web") -> FeedbackOutcome:
    """Store (or replace) the customer's verdict on ``question``'s answer.

    ``comment`` is stripped and stored as typed (escaped wherever it is shown). Raises
    ``FeedbackNotAllowed`` when no answer was shown (:func:`feedback_allowed`) and
    ``FeedbackInvalid`` when the comment is over ``FEEDBACK_COMMENT_MAX_CHARS``.
    """
    comment = (comment or "").strip()
    if len(comment) > settings.FEEDBACK_COMMENT_MAX_CHARS:
        raise FeedbackInvalid(
            f"Comments are limited to {settings.FEEDBACK_COMMENT_MAX_CHARS:,} characters; yours has {len(comment):,}."
        )
    if not feedback_allowed(question):
        raise FeedbackNotAllowed("This question has no answer to rate.")
    feedback, created = Feedback.objects.update_or_create(
        question=question, defaults={"helpful": helpful, "comment": comment, "channel": channel}
    )
    return FeedbackOutcome(feedback=feedback, created=created)
