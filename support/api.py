"""JSON API (DRF): validate input, call one service, shape output.

``POST /api/v1/questions/`` answers a question and returns a ``token``: a secret tied to
that question (only its hash is stored) which later per-question calls must present.
With ``conversation_id`` and that token, a question is a follow-up in the conversation
(answered in its context) and keeps the same token. ``POST /api/v1/tickets/`` escalates
a question for whoever holds its token; a missing or wrong token gets the same 404 as an
unknown id, so ids reveal nothing.
``POST /api/v1/questions/<id>/feedback/`` rates the answer, with the same proof of
ownership. All are throttled per client (:mod:`support.throttling`): 429 with ``Retry-After``.
"""

from typing import Any

from django.conf import settings
from django.core.validators import ProhibitNullCharactersValidator
from django.http import HttpRequest, HttpResponseBase, HttpResponsePermanentRedirect, JsonResponse
from django.utils.translation import get_language, gettext, gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers, status
from rest_framework.exceptions import MethodNotAllowed, NotFound
from rest_framework.fields import ProhibitSurrogateCharactersValidator
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from knowledge.models import Article
from support.answering.span import span_position
from support.api_schema import (
    ANSWER_EXAMPLE,
    DETAIL,
    EVENT_STREAM_RESPONSE,
    QUESTION_EXAMPLE,
    RETRY_AFTER,
    TICKET_EXAMPLE,
    error_responses,
    json_only,
)
from support.feedback import FeedbackInvalid, FeedbackNotAllowed, feedback_record
from support.forms import EMAIL_ERROR_MESSAGES
from support.middleware import json_error
from support.models import Question, Ticket
from support.services import (
    AnswerOutcome,
    QuestionAnswerOptions,
    QuestionInvalid,
    conversation_for_token,
    question_answer,
    question_answer_events,
    question_clean,
    question_invalid_message,
    question_token_matches,
)
from support.streaming import EVENT_STREAM, answer_event_stream, event_stream_response, first_event, wants_event_stream
from support.throttling import ScopedThrottle, client_ip
from support.tickets import TicketExists, TicketInvalid, email_normalise, ticket_create
from support.workflow import ticket_escalated_again

QUESTION_NOT_FOUND = gettext_lazy("No question with this id and token.")  # in the request's language


def ask_rate(group: str, request: object) -> str:
    """django-ratelimit's rate for the pages: ``ASK_RATE_LIMIT``, read per request."""
    return str(settings.ASK_RATE_LIMIT)


MAX_ID = 2**63 - 1  # PostgreSQL bigint: the largest id


class JsonStringField(serializers.CharField):
    """Only JSON strings: DRF's field would turn ``12`` into ``"12"``."""

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class TokenField(serializers.CharField):
    """A question's secret: any string, taken exactly as sent. A missing, null, non-string,
    over-long or space-padded token, or one holding a NUL or a lone surrogate, is simply not
    the question's (404 like an unknown id), never a 400 that tells a wrong token from a
    malformed one."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "The secret POST /api/v1/questions/ returned for this question.")
        super().__init__(required=False, allow_blank=True, allow_null=True, default="", trim_whitespace=False, **kwargs)
        # A NUL or a lone surrogate is just another character that makes the token wrong (404), not a 400.
        validators: list[Any] = getattr(self, "validators", [])  # (mypy can't type DRF's property)
        refused = (ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator)
        self.validators = [v for v in validators if not isinstance(v, refused)]

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:  # null: no token, the same as a wrong one
            return True, ""
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):  # a number, list or object is no question's secret: 404, not 400
            return ""
        return str(super().to_internal_value(data))


class QuestionInSerializer(serializers.Serializer):
    question = JsonStringField(
        allow_blank=True, trim_whitespace=False, max_length=None,
        help_text="The customer's question, Korean or English; not blank, at most QUESTION_MAX_CHARS (1000) "
        "characters, else 400.",
    )  # fmt: skip
    # A follow-up: the conversation and its token (the one returned with its first question).
    conversation_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    token = TokenField()

    def validate_question(self, value: str) -> str:
        """Blank or over-long is a 400 before anything else, a follow-up's conversation included
        (a blank question with an unknown conversation had been a 404)."""
        try:
            question_clean(value)
        except QuestionInvalid as exc:
            raise serializers.ValidationError(question_invalid_message(exc)) from exc
        return value


class SourceOutSerializer(serializers.Serializer):
    title = serializers.CharField(help_text="The article's title.")
    url = serializers.CharField(help_text="Path of the public article page on this site, e.g. /articles/refund/.")
    excerpt = serializers.CharField(help_text="The retrieved passage of the article.")
    score = serializers.FloatField(
        help_text="Retrieval score after fusion (higher is closer), for ordering only: re-ranking bonuses can "
        "lift it past 1."
    )
    language = serializers.CharField(  # the article's: may differ from the question's; always sent
        default="", help_text="The article's language (ko, en); may differ from the question's."
    )
    kind = serializers.ChoiceField(  # always sent
        choices=Article.Kind.values, default=Article.Kind.ARTICLE.value,
        help_text="article, or support_answer: a reviewed answer from the support team.",
    )  # fmt: skip


class QuestionOutSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The question's id, for POST /api/v1/tickets/.")
    conversation_id = serializers.IntegerField(
        help_text="The conversation this question belongs to; send it with the token to follow up."
    )
    token = serializers.CharField(help_text="Secret proving this question is yours; only its SHA-256 is stored.")
    answer = serializers.CharField(help_text="Empty when escalation_recommended: no guess when not confident.")
    answer_kind = serializers.CharField(help_text="extractive (an excerpt), llm (written by the chat model) or empty.")
    answer_span = serializers.CharField(
        allow_null=True, help_text="The shortest part of answer that answers the question; null without one."
    )
    answer_span_start = serializers.IntegerField(
        allow_null=True,
        help_text=(
            "Where answer_span starts in answer, in characters (Unicode code points, as answer[start:start + "
            "len(answer_span)] in Python; in JavaScript count by code point, e.g. Array.from(answer)); "
            "null when answer_span is null. The same phrase can occur earlier in the answer: mark it here."
        ),
    )
    confidence = serializers.FloatField(allow_null=True, help_text="In [0, 1]; below the threshold: escalate.")
    escalation_recommended = serializers.BooleanField(help_text="True when the portal is not sure: offer a ticket.")
    status = serializers.ChoiceField(choices=Question.Status.choices)
    sources = SourceOutSerializer(many=True, help_text="The articles the answer comes from, best first.")


class EventStreamRenderer(BaseRenderer):
    """Lets ``Accept: text/event-stream`` through content negotiation; the view streams itself
    (:mod:`support.streaming`) and never renders data with this."""

    media_type = EVENT_STREAM
    format = "sse"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        raise NotImplementedError("QuestionCreateApi streams its events itself")  # pragma: no cover


class QuestionCreateApi(APIView):
    """``POST /api/v1/questions/ {"question": "..."}`` → 201 with the answer, confidence, sources and ``token``.

    With ``Accept: text/event-stream`` the answer comes as Server-Sent Events instead
    (:mod:`support.streaming`: ``sources``, ``delta``…, ``done`` = the 201 body); errors
    are the same JSON responses either way.
    """

    throttle_classes = [ScopedThrottle]
    renderer_classes = [JSONRenderer, EventStreamRenderer]
    throttle_scope = "questions"

    @extend_schema(
        operation_id="question_create",
        summary="Ask a question",
        description="Answers from the published help articles, with the sources and a confidence. When the portal "
        "is not sure, `answer` is empty and `escalation_recommended` is true: offer POST /api/v1/tickets/ with the "
        "returned `id` and `token`. Send `Accept: text/event-stream` to receive the answer as Server-Sent Events "
        "while it is written (the text/event-stream 200 response); errors are JSON either way.",
        tags=["questions"],
        request=QuestionInSerializer,
        responses={
            (201, "application/json"): OpenApiResponse(
                QuestionOutSerializer, "Stored and answered, or stored with escalation recommended."
            ),
            (200, EVENT_STREAM): EVENT_STREAM_RESPONSE,
            **json_only(
                error_responses(
                    400, 404, 405, 406, 411, 413, 415, 429, 503, field_error={"question": ["질문을 입력해 주세요."]}
                )
            ),
        },
        # The Accept header chooses JSON or the stream; DRF's ?format= (kept for the schema view's
        # own ?format=json) is not documented here: on this endpoint it changed nothing.
        parameters=[RETRY_AFTER, OpenApiParameter("format", exclude=True)],
        examples=[QUESTION_EXAMPLE, ANSWER_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        data = QuestionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values, conversation = data.validated_data, None
        if "conversation_id" in values:  # not yours (unknown id, wrong or missing token): the ticket endpoint's 404
            conversation = conversation_for_token(values["conversation_id"], values["token"])
            if conversation is None:
                raise NotFound(QUESTION_NOT_FOUND)
        streaming = wants_event_stream(request)  # as the pages decide, against JSON
        asked = QuestionAnswerOptions(
            text=values["question"], channel="api", conversation=conversation, token=values["token"], stream=streaming
        )
        try:
            if streaming:
                events = question_answer_events(**asked)
                first = first_event(events)  # validation errors and 503s happen here, before the stream
                return event_stream_response(
                    answer_event_stream(first, events, sources=sources_payload, done=question_payload)
                )
            outcome = question_answer(**asked)
        except QuestionInvalid as exc:
            return Response({"question": [question_invalid_message(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        # The body carries the question's secret token: no cache may keep it.
        return Response(
            question_payload(outcome), status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"}
        )

    def finalize_response(self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any) -> Any:
        # Errors (400, 404, 415, 429) stay JSON when the client asked for an event stream.
        renderer = getattr(request, "accepted_renderer", None)
        if isinstance(response, Response) and renderer is not None and renderer.format == EventStreamRenderer.format:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


def question_payload(outcome: AnswerOutcome) -> dict[str, Any]:
    """The 201 body of ``POST /api/v1/questions/`` (and the ``done`` event of its stream)."""
    q = outcome.question
    span = None if q.escalation_recommended or not q.answer_span else q.answer_span
    payload = {
        "id": q.pk, "conversation_id": q.conversation_id, "token": outcome.token,
        "answer": "" if q.escalation_recommended else q.answer,  # no guess when not confident
        "answer_kind": "" if q.escalation_recommended else q.answer_kind,  # nothing shown, no kind
        "confidence": q.confidence,
        "answer_span": span,
        "answer_span_start": None if span is None else span_position(q.answer, span, q.answer_span_start),
        "escalation_recommended": q.escalation_recommended, "status": q.status, "sources": q.sources,
    }  # fmt: skip
    return dict(QuestionOutSerializer(payload).data)


def sources_payload(sources: list[dict[str, Any]]) -> list[Any]:
    """``sources`` as the API shows them (the ``sources`` field, and the stream's ``sources`` event)."""
    return list(SourceOutSerializer(sources, many=True).data)


class NormalisedEmailField(serializers.EmailField):
    """An email address normalised (:func:`support.tickets.email_normalise`) before it is validated."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        return super().run_validation(email_normalise(data) if isinstance(data, str) else data)


class TicketInSerializer(serializers.Serializer):
    question_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    # Not required here: a missing token must look exactly like a wrong one (404, not 400).
    token = TokenField()
    # The escalation page's messages, so the widget says what the page says.
    email = NormalisedEmailField(max_length=254, error_messages=EMAIL_ERROR_MESSAGES)
    details = JsonStringField(required=False, allow_blank=True, default="")

    def validate_details(self, value: str) -> str:
        if len(value) > settings.TICKET_DETAILS_MAX_CHARS:
            raise serializers.ValidationError(  # the form's message, in the request's Accept-Language
                gettext("Details are limited to %(limit)s characters; yours have %(count)s.")
                % {"limit": f"{settings.TICKET_DETAILS_MAX_CHARS:,}", "count": f"{len(value):,}"}
            )
        return value


class TicketOutSerializer(serializers.Serializer):
    """The 201 response of ``POST /api/v1/tickets/`` (for the schema; the view builds the dict)."""

    reference = serializers.CharField(help_text="The ticket's reference, e.g. T-3F9A0C1D; quoted in emails.")
    status = serializers.ChoiceField(choices=Ticket.Status.choices)
    reason = serializers.ChoiceField(choices=Ticket.Reason.choices, help_text="Why the ticket was opened.")
    acknowledgement = serializers.ChoiceField(
        choices=["queued", "not_sent"],
        help_text="queued: a confirmation email goes to the customer; not_sent: an hourly cap held it back.",
    )


@csrf_exempt  # nothing is changed; a POST to an unknown path must get this 404, not a CSRF 403
def api_not_found(request: HttpRequest, path: str = "") -> HttpResponseBase:
    """404 as JSON (``{"detail"}``, the API's error shape) for any other path under ``/api/``.

    ``/api/docs`` and ``/api/schema``, typed without their slash, redirect to it (301) for GET
    and HEAD, and are a JSON 405 otherwise (CommonMiddleware's slash redirect would drop a
    POST's body, and in DEBUG raises a 500)."""
    if path in ("docs", "schema"):
        if request.method in ("GET", "HEAD"):
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(f"/api/{path}/" + (f"?{query}" if query else ""))
        return _method_not_allowed(request, "GET, HEAD")
    return json_error(gettext("Not found."), 404)


def _method_not_allowed(request: HttpRequest, allow: str) -> JsonResponse:
    response = json_error(str(MethodNotAllowed(request.method or "").detail), 405)
    response["Allow"] = allow
    return response


class JsonMethodNotAllowed:
    """A view whose 405 is the API's JSON ``{"detail"}``: drf-spectacular's views rendered it
    with their own renderer (an OpenAPI YAML document, the docs page's HTML)."""

    allowed_methods: list[str]

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> JsonResponse:
        return _method_not_allowed(request, ", ".join(self.allowed_methods))


class SchemaView(JsonMethodNotAllowed, SpectacularAPIView):
    """``/api/schema/``: drf-spectacular's schema view, its 405 in JSON."""


class DocsView(JsonMethodNotAllowed, SpectacularSwaggerSplitView):
    """``/api/docs/``: drf-spectacular's Swagger UI page, its 405 in JSON."""


def question_for_token(question_id: int, token: str) -> Question:
    """The question ``question_id`` if ``token`` is its secret; else ``NotFound`` (404), the same for both."""
    if not 1 <= question_id <= MAX_ID:
        raise NotFound(QUESTION_NOT_FOUND)  # past bigint: no such row, and no DataError from PostgreSQL
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

    @extend_schema(
        operation_id="ticket_create",
        summary="Escalate a question to support (an email ticket)",
        description="For whoever holds the question's `token`. A missing or wrong token gets the same 404 as an "
        "unknown id. The customer gets a confirmation email with the ticket reference (`acknowledgement`: `queued`), "
        "unless an hourly cap held it back (`not_sent`); support is notified either way.",
        tags=["tickets"],
        request=TicketInSerializer,
        responses={
            201: OpenApiResponse(TicketOutSerializer, "The ticket is stored; support is notified by email."),
            **error_responses(400, 404, 405, 406, 409, 411, 413, 415, 429, 503),
        },
        parameters=[RETRY_AFTER],
        examples=[TICKET_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        data = TicketInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        question = question_for_token(values["question_id"], values["token"])
        try:
            ticket = ticket_create(
                question=question, email=values["email"], details=values["details"], requester_ip=client_ip(request),
                language=get_language() or "",  # Accept-Language (LocaleMiddleware): the widget's language
            )  # fmt: skip
        except TicketExists as exc:
            added = ticket_escalated_again(ticket=exc.ticket, email=values["email"], details=values["details"])
            detail = f"{exc} {gettext('What you wrote was added to it.')}" if added else str(exc)
            body = {"detail": detail, "reference": exc.ticket.reference, "status": exc.ticket.status, "added": added}
            return Response(body, status=status.HTTP_409_CONFLICT)
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


class JsonBooleanField(serializers.BooleanField):
    """Only JSON ``true``/``false``: DRF's field would also take "yes", "0", 1..."""

    def to_internal_value(self, data: object) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return bool(data)


class FeedbackInSerializer(serializers.Serializer):
    # Not required here: a missing token must look exactly like a wrong one (404, not 400).
    token = TokenField()
    helpful = JsonBooleanField()
    comment = JsonStringField(required=False, allow_blank=True, default="", trim_whitespace=False)

    def validate_comment(self, value: str) -> str:
        if len(value.strip()) > settings.FEEDBACK_COMMENT_MAX_CHARS:
            raise serializers.ValidationError(  # the page's message and count (spaces at the ends are not kept)
                gettext("Comments are limited to %(limit)s characters; yours has %(count)s.")
                % {"limit": f"{settings.FEEDBACK_COMMENT_MAX_CHARS:,}", "count": f"{len(value.strip()):,}"}
            )
        return value


class FeedbackOutSerializer(serializers.Serializer):
    """Documentation of the feedback response (the view builds the dict itself)."""

    question_id = serializers.IntegerField()
    helpful = serializers.BooleanField()
    comment = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class FeedbackCreateApi(APIView):
    """``POST /api/v1/questions/<id>/feedback/ {"token", "helpful", "comment"}`` → the feedback.

    201 when the question's first feedback is stored; 200 when it replaces an earlier
    one (one feedback per question, the latest verdict counts). Body
    ``{"question_id", "helpful", "comment", "created_at", "updated_at"}``. 400 on bad
    fields (``helpful`` must be a boolean, the comment at most
    ``FEEDBACK_COMMENT_MAX_CHARS``); the same 404 as an unknown id for a missing or wrong
    token; 409 when the question's answer was withheld (nothing to rate).
    """

    throttle_classes = [ScopedThrottle]
    throttle_scope = "feedback"

    @extend_schema(
        operation_id="feedback_create",
        summary="Say whether an answer helped",
        description="For whoever holds the question's `token`; a missing or wrong token gets the same 404 as an "
        "unknown id. One feedback per question: a second one replaces the first (200).",
        tags=["questions"],
        request=FeedbackInSerializer,
        responses={
            201: OpenApiResponse(FeedbackOutSerializer, "The question's first feedback is stored."),
            200: OpenApiResponse(FeedbackOutSerializer, "An earlier feedback was replaced."),
            409: OpenApiResponse(DETAIL, "The answer was withheld (escalation recommended): nothing to rate."),
            **error_responses(
                400,
                404,
                405,
                406,
                411,
                413,
                415,
                429,
                503,
                field_error={"comment": ["Ensure this field has no more than 2000 characters."]},
            ),
        },
        parameters=[RETRY_AFTER],
    )
    def post(self, request: Request, question_id: int) -> Response:
        data = FeedbackInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        question = question_for_token(question_id, values["token"])
        try:
            outcome = feedback_record(
                question=question, helpful=values["helpful"], comment=values["comment"], channel="api"
            )
        except FeedbackNotAllowed as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except FeedbackInvalid as exc:
            return Response({"comment": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        feedback = outcome.feedback
        return Response(
            {
                "question_id": question.pk,
                "helpful": feedback.helpful,
                "comment": feedback.comment,
                "created_at": feedback.created_at.isoformat(),
                "updated_at": feedback.updated_at.isoformat(),
            },
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )
