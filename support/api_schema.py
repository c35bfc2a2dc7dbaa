"""The JSON API's responses as OpenAPI 3 describes them (drf-spectacular): errors, headers, examples.

Only descriptions live here; :mod:`support.api` decorates its views with them and its
behaviour does not depend on this module. Where each error comes from:

- 400: DRF's validation (``{"field": ["message", ...]}``, ``{"non_field_errors": [...]}``
  for a body that is not an object) or its JSON parser (``{"detail": "The request body is not
  valid JSON (line 1, column 14)."}``, :mod:`support.parsers`);
  the services' own checks answer in the first shape.
- 404: :func:`support.api.question_for_token`, the same body for an unknown id and a wrong token.
- 409: :class:`support.tickets.TicketExists`.
- 411 and 413: :class:`support.middleware.RequestSizeLimitMiddleware`, before the body is read.
- 415: DRF's parser negotiation (only ``application/json`` is parsed).
- 429: :class:`support.throttling.ScopedThrottle`, with ``Retry-After`` in seconds.
- 503: :class:`support.middleware.DatabaseBusyMiddleware`, with ``Retry-After`` in seconds.
"""

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

# {"field": ["message", ...]} or, from the JSON parser, {"detail": "message"}.
VALIDATION_ERROR: dict[str, Any] = {
    "type": "object",
    "description": "Field name (or `non_field_errors`, or `detail` for unparseable JSON) -> message(s).",
    "additionalProperties": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]},
}

DETAIL = inline_serializer(
    "Error",
    {
        "detail": serializers.CharField(
            help_text="What went wrong, in the request's Accept-Language (Korean by default): DRF's translated "
            "messages (wrong media type, throttling, field types), malformed JSON (with the line and column where "
            "it breaks), a blank or over-long question, over-long ticket details or feedback comments, and the "
            "portal's 404, 409, 411 and 413 details."
        )
    },
)

TICKET_CONFLICT = inline_serializer(
    "TicketConflict",
    {
        "detail": serializers.CharField(),
        "reference": serializers.CharField(help_text="The unresolved ticket's reference, e.g. T-3F9A0C1D."),
        "status": serializers.CharField(
            help_text="The unresolved ticket's status (open, pending_customer or answered)."
        ),
        "added": serializers.BooleanField(
            help_text="True when this request's details or a different email were added to that ticket as a "
            "customer message (support is notified); false when it brought nothing new."
        ),
    },
)

RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429, 503],
    required=True,
    description="Seconds to wait before trying again.",
)


def error_responses(*codes: int, field_error: dict[str, list[str]] | None = None) -> dict[int, OpenApiResponse]:
    """The documented error responses for ``codes`` (each one of 400, 404, 405, 406, 409, 411, 413, 415,
    429, 503); ``field_error`` is the 400 example, a field of this endpoint."""
    field_error = field_error or {"email": ["Enter a valid email address."]}
    described = {
        400: OpenApiResponse(
            VALIDATION_ERROR,
            "Invalid input: malformed JSON, a missing or invalid field.",
            examples=[OpenApiExample("Field errors", value=field_error)],
        ),
        405: OpenApiResponse(DETAIL, "Only POST (and OPTIONS) is allowed here; see the Allow header."),
        406: OpenApiResponse(
            DETAIL,
            "The Accept header allows no representation this endpoint has (application/json; for questions "
            "also text/event-stream).",
        ),
        404: OpenApiResponse(
            DETAIL, "No question (or conversation) with this id and token; the same for a wrong token."
        ),
        409: OpenApiResponse(TICKET_CONFLICT, "The question already has an unresolved ticket."),
        411: OpenApiResponse(DETAIL, "A chunked body without Content-Length; send the body with its length."),
        413: OpenApiResponse(DETAIL, "The body is larger than API_MAX_BODY_BYTES (64 KiB by default); not read."),
        415: OpenApiResponse(DETAIL, "The body is not application/json."),
        429: OpenApiResponse(DETAIL, "Too many requests from this client address; see Retry-After."),
        503: OpenApiResponse(DETAIL, "No database connection is free; nothing was stored. See Retry-After."),
    }
    return {code: described[code] for code in codes}


# One Server-Sent Event, as SSE-aware tools (schemathesis) read the stream: event name and data line.
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["sources", "delta", "done"]},
        "data": {
            "type": "string",
            "description": 'One line of JSON: sources -> a list of Source; delta -> {"text": string}; '
            "done -> QuestionOut.",
        },
    },
}

EVENT_STREAM_RESPONSE = OpenApiResponse(
    SSE_EVENT,
    "With `Accept: text/event-stream`: status 200 (as EventSource-style clients expect) and Server-Sent Events, "
    "each `data` one line of JSON. "
    "`event: sources` first (a list shaped like `sources` below), then zero or more `event: delta` with "
    '`{"text": "..."}`: pieces of the answer as the chat model writes it (the extractive answerer sends one), then '
    "`event: done` whose data is exactly the `application/json` 201 body (`QuestionOut`). `done` is the "
    "authority: when it has `escalation_recommended` (the model judged the sources insufficient, or failed "
    "mid-reply) its `answer` is empty and the pieces shown must be dropped. Below the confidence threshold "
    "`done` follows `sources` at once (no model call). Headers: `Content-Type: text/event-stream; charset=utf-8`, "
    "`Cache-Control: no-cache, no-store`, `X-Accel-Buffering: no`. The JSON 201 is `Cache-Control: no-store`.",
    examples=[
        OpenApiExample(
            "Streamed answer",
            response_only=True,
            status_codes=["200"],
            media_type="text/event-stream",
            value='event: sources\ndata: [{"title":"Refund policy","url":"/articles/refund/","excerpt":"...",'
            '"score":0.87,"language":"en","kind":"article"}]\n\nevent: delta\ndata: {"text":"Refunds are "}\n\n'
            'event: delta\ndata: {"text":"processed within 3 business days."}\n\nevent: done\ndata: {"id":42,...}\n\n',
        )
    ],
)


def json_only(responses: dict[int, OpenApiResponse]) -> dict[tuple[int, str], OpenApiResponse]:
    """``responses`` as ``application/json`` only, for a view that can also stream (its errors never do)."""
    return {(code, "application/json"): response for code, response in responses.items()}


QUESTION_EXAMPLE = OpenApiExample("A question", value={"question": "How long does a refund take?"}, request_only=True)
ANSWER_EXAMPLE = OpenApiExample(
    "Answered",
    response_only=True,
    status_codes=["201"],
    value={
        "id": 42,
        "conversation_id": 42,
        "token": "q0Yb1m…(43 characters)",
        "answer": "Refunds are processed within 3 business days.",
        "answer_kind": "extractive",
        "answer_span": "within 3 business days",
        "answer_span_start": 22,
        "confidence": 0.91,
        "escalation_recommended": False,
        "status": "answered",
        "sources": [
            {
                "title": "Refund policy",
                "url": "/articles/refund/",
                "excerpt": "Refunds are processed within 3 business days.",
                "score": 0.87,
                "language": "en",
                "kind": "article",
            }
        ],
    },
)
TICKET_EXAMPLE = OpenApiExample(
    "An escalation",
    request_only=True,
    value={"question_id": 42, "token": "q0Yb1m…", "email": "customer@example.com", "details": "Order 1234"},
)


def input_limits_hook(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """drf-spectacular post-processing: the input limits the views enforce themselves (with
    their own messages), written into the schema from the settings of this deployment, so a
    client built from it sends nothing the API refuses for length (``QUESTION_MAX_CHARS``,
    ``TICKET_DETAILS_MAX_CHARS``, ``FEEDBACK_COMMENT_MAX_CHARS``)."""
    schemas = result["components"]["schemas"]  # a renamed component is a KeyError, never silently unlimited
    limits = {
        ("QuestionIn", "question"): {"minLength": 1, "maxLength": settings.QUESTION_MAX_CHARS},
        ("TicketIn", "details"): {"maxLength": settings.TICKET_DETAILS_MAX_CHARS},
        ("FeedbackIn", "comment"): {"maxLength": settings.FEEDBACK_COMMENT_MAX_CHARS},
    }
    for (component, field), bounds in limits.items():
        schemas[component]["properties"][field].update(bounds)
    return result
