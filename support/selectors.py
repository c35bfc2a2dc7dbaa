"""Reads for the support app."""

from django.conf import settings

from support.models import AnswerPolicy, Question, Ticket


def answer_threshold() -> float:
    """The confidence threshold in force: the admin-editable policy row, else the setting."""
    policy = AnswerPolicy.objects.filter(pk=AnswerPolicy.SINGLETON_PK).only("confidence_threshold").first()
    return policy.confidence_threshold if policy else settings.ANSWER_CONFIDENCE_THRESHOLD


def ticket_conversation(ticket: Ticket) -> list[Question]:
    """The turns of the ticket's conversation up to and including its question, oldest first.

    Just the question for one asked outside a conversation.
    """
    question = ticket.question
    if question.conversation_id is None:
        return [question]
    return list(
        Question.objects.filter(conversation_id=question.conversation_id, turn__lte=question.turn).order_by("turn")
    )
