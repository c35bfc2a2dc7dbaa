"""JSON API (DRF): validate input, call one service, shape output."""

from django.conf import settings
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from support.models import Question
from support.services import QuestionInvalid, TicketInvalid, question_answer, ticket_create


def ask_rate(group: str, request: object) -> str:
    return str(settings.ASK_RATE_LIMIT)


class QuestionInSerializer(serializers.Serializer):
    question = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=None)


class SourceOutSerializer(serializers.Serializer):
    title = serializers.CharField()
    url = serializers.CharField()
    excerpt = serializers.CharField()
    score = serializers.FloatField()


class QuestionOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    answer = serializers.CharField()
    answer_kind = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    escalation_recommended = serializers.BooleanField()
    status = serializers.CharField()
    sources = SourceOutSerializer(many=True)


@method_decorator(ratelimit(key="ip", rate=ask_rate, method="POST", block=True), name="post")
class QuestionCreateApi(APIView):
    """``POST /api/v1/questions/ {"question": "..."}`` → the answer, confidence and sources."""

    def post(self, request: Request) -> Response:
        data = QuestionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            outcome = question_answer(text=data.validated_data["question"], channel="api")
        except QuestionInvalid as exc:
            return Response({"question": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        q = outcome.question
        payload = {
            "id": q.pk, "answer": "" if q.escalation_recommended else q.answer,  # no guess when not confident
            "answer_kind": q.answer_kind, "confidence": q.confidence,
            "escalation_recommended": q.escalation_recommended, "status": q.status, "sources": q.sources,
        }  # fmt: skip
        return Response(QuestionOutSerializer(payload).data, status=status.HTTP_201_CREATED)


class TicketInSerializer(serializers.Serializer):
    question_id = serializers.PrimaryKeyRelatedField(queryset=Question.objects.all())
    email = serializers.EmailField()
    details = serializers.CharField(required=False, allow_blank=True, default="")


@method_decorator(ratelimit(key="ip", rate=ask_rate, method="POST", block=True), name="post")
class TicketCreateApi(APIView):
    """``POST /api/v1/tickets/ {"question_id", "email", "details"}`` → 201 with the ticket reference."""

    def post(self, request: Request) -> Response:
        data = TicketInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            ticket = ticket_create(
                question=data.validated_data["question_id"],
                email=data.validated_data["email"],
                details=data.validated_data["details"],
            )
        except TicketInvalid as exc:
            return Response({"details": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {"reference": ticket.reference, "status": ticket.status, "reason": ticket.reason},
            status=status.HTTP_201_CREATED,
        )
