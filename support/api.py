"""JSON API (DRF): validate input, call one service, shape output.

``POST /api/v1/questions/`` answers a question and returns a ``token``: a secret tied to
that question (only its hash is stored) which later per-question calls must present.
With ``conversation_id`` and that token, a question is a follow-up in the conversation
(answered in its context) and keeps the same token. ``POST /api/v1/tickets/`` escalates
a question for whoever holds its token; a missing or
wrong token gets the same 404 as an unknown id, so ids reveal nothing. Both are
throttled per client (:mod:`support.throttling`): 429 with ``Retry-After``.
"""

from django.conf import settings
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from support.models import Question
from support.services import (
    QuestionInvalid,
    TicketExists,
    TicketInvalid,
    conversation_for_token,
    question_answer,
    question_token_matches,
    ticket_create,
)
from support.throttling import ScopedThrottle, client_ip

QUESTION_NOT_FOUND = "No question with this id and token."


def ask_rate(group: str, request: object) -> str:
    """django-ratelimit's rate for the pages: ``ASK_RATE_LIMIT``, read per request."""
    return str(settings.ASK_RATE_LIMIT)


class QuestionInSerializer(serializers.Serializer):
    question = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=None)
    # A follow-up: the conversation and its token (the one returned with its first question).
    conversation_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    token = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class SourceOutSerializer(serializers.Serializer):
    title = serializers.CharField()
    url = serializers.CharField()
    excerpt = serializers.CharField()
    score = serializers.FloatField()
    language = serializers.CharField(default="")  # the article's: may differ from the question's


class QuestionOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    token = serializers.CharField()
    answer = serializers.CharField()
    answer_kind = serializers.CharField()
    answer_span = serializers.CharField(allow_null=True)  # part of ``answer``; null without one
    confidence = serializers.FloatField(allow_null=True)
    escalation_recommended = serializers.BooleanField()
    status = serializers.CharField()
    sources = SourceOutSerializer(many=True)


class QuestionCreateApi(APIView):
    """``POST /api/v1/questions/ {"question": "..."}`` → 201 with the answer, confidence, sources and ``token``."""

    throttle_classes = [ScopedThrottle]
    throttle_scope = "questions"

    def post(self, request: Request) -> Response:
        data = QuestionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values, conversation = data.validated_data, None
        if "conversation_id" in values:  # not yours (unknown id, wrong or missing token): the ticket endpoint's 404
            conversation = conversation_for_token(values["conversation_id"], values["token"])
            if conversation is None:
                raise NotFound(QUESTION_NOT_FOUND)
        try:
            outcome = question_answer(
                text=values["question"], channel="api", conversation=conversation, token=values["token"]
            )
        except QuestionInvalid as exc:
            return Response({"question": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        q = outcome.question
        payload = {
            "id": q.pk, "conversation_id": q.conversation_id, "token": outcome.token,
            "answer": "" if q.escalation_recommended else q.answer,  # no guess when not confident
            "answer_kind": q.answer_kind, "confidence": q.confidence,
            "answer_span": None if q.escalation_recommended or not q.answer_span else q.answer_span,
            "escalation_recommended": q.escalation_recommended, "status": q.status, "sources": q.sources,
        }  # fmt: skip
        return Response(QuestionOutSerializer(payload).data, status=status.HTTP_201_CREATED)


class TicketInSerializer(serializers.Serializer):
    question_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    # Not required here: a missing token must look exactly like a wrong one (404, not 400).
    token = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    email = serializers.EmailField(max_length=254)
    details = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_details(self, value: str) -> str:
        if len(value) > settings.TICKET_DETAILS_MAX_CHARS:
            raise serializers.ValidationError(
                f"Details are limited to {settings.TICKET_DETAILS_MAX_CHARS:,} characters; yours have {len(value):,}."
            )
        return value


def question_for_token(question_id: int, token: str) -> Question:
    """The question ``question_id`` if ``token`` is its secret; else ``NotFound`` (404), the same for both."""
    question = Question.objects.filter(pk=question_id).first()
    if question is None or not question_token_matches(question, token):
        raise NotFound(QUESTION_NOT_FOUND)
    return question


class TicketCreateApi(APIView):
    """``POST /api/v1/tickets/ {"question_id", "token", "email", "details"}`` → 201 with the ticket reference.

    409 with the existing reference when the question already has an unresolved ticket.
    ``acknowledgement`` is ``"queued"``, or ``"not_sent"`` when an hourly cap held the
    confirmation email back (the ticket is stored and support notified all the same).
    """

    throttle_classes = [ScopedThrottle]
    throttle_scope = "tickets"

    def post(self, request: Request) -> Response:
        data = TicketInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        question = question_for_token(values["question_id"], values["token"])
        try:
            ticket = ticket_create(
                question=question, email=values["email"], details=values["details"], requester_ip=client_ip(request)
            )
        except TicketExists as exc:
            return Response(
                {"detail": str(exc), "reference": exc.ticket.reference, "status": exc.ticket.status},
                status=status.HTTP_409_CONFLICT,
            )
        except TicketInvalid as exc:
            return Response({"details": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "reference": ticket.reference,
                "status": ticket.status,
                "reason": ticket.reason,
                "acknowledgement": "not_sent" if ticket.ack_suppressed else "queued",
            },
            status=status.HTTP_201_CREATED,
        )
