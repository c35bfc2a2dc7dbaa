"""Answers as Server-Sent Events, for the API and the pages (``Accept: text/event-stream``).

One stream per question, three event kinds, each ``data`` one line of JSON::

    event: sources   data: [ {title, url, excerpt, score, language, kind}, ... ]
    event: delta     data: {"text": "..."}        (zero or more: the answer as it is written)
    event: done      data: {... the non-streaming 201 body: id, token, answer, status, ...}

``done`` is the authority: deltas are provisional, and ``done`` may withhold the answer
(``escalation_recommended``; e.g. the model judged the sources insufficient, or it failed
mid-reply), in which case a client drops the text it showed. Everything that decides an
error status (validation, 404, 413, 415, 429, 503) happens before the stream starts, so
those stay ordinary JSON responses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse

from support.services import AnswerDelta, AnswerEvent, AnswerOutcome, AnswerSources

EVENT_STREAM = "text/event-stream"


def wants_event_stream(request: HttpRequest, alternative: str = "application/json") -> bool:
    """True when ``Accept`` names ``text/event-stream`` (a wildcard such as ``*/*`` asks for
    nothing in particular) at a quality above 0 and not below that of ``alternative`` (the
    API's JSON, the pages' ``text/html``): the pages' script sends ``text/event-stream``, the
    widget ``text/event-stream, application/json``, and both orders of an equal pair stream.
    ``text/event-stream;q=0`` refuses it (RFC 9110 §12.4.2) and ``text/event-stream;q=0.1,
    application/json`` prefers JSON (§12.5.1). A wildcard that admits the stream but not
    ``alternative`` (``text/*`` for the API) streams: it is the one representation the client
    takes (it had been sent JSON it did not accept). Qualities as Django parses them
    (``HttpRequest.accepted_type``)."""
    stream = request.accepted_type(EVENT_STREAM)
    if stream is None:
        return False  # accepted_types leaves out q=0
    other = request.accepted_type(alternative)
    if (stream.main_type, stream.sub_type) != ("text", "event-stream"):
        return other is None
    return other is None or stream.quality >= other.quality


def sse_event(event: str, data: Any) -> bytes:
    """One SSE frame; ``data`` as compact JSON, which never contains a raw newline."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def answer_event_stream(
    first: AnswerSources,
    events: Generator[AnswerEvent, None, None],
    *,
    sources: Callable[[list[dict[str, Any]]], Any],
    done: Callable[[AnswerOutcome], Any],
) -> Iterator[bytes]:
    """The frames of one answer: ``sources`` (shaped by ``sources``), ``delta``s, ``done``
    (shaped by ``done``). Closing it (the client went away: the server closes the response)
    closes ``events``, which closes the model's stream and saves the question."""
    try:
        yield sse_event("sources", sources(first.question.sources))
        for event in events:
            if isinstance(event, AnswerDelta):
                yield sse_event("delta", {"text": event.text})
            elif isinstance(event, AnswerOutcome):
                yield sse_event("done", done(event))
    finally:
        events.close()


def event_stream_response(frames: Iterator[bytes]) -> StreamingHttpResponse:
    """``frames`` as ``text/event-stream``, unbuffered: ``X-Accel-Buffering: no`` stops nginx
    from holding the answer back until it is complete."""
    # The charset is said, though SSE is always UTF-8: HTTP clients other than browsers
    # (requests, curl scripts) otherwise decode the Korean text as Latin-1.
    response = StreamingHttpResponse(frames, content_type=f"{EVENT_STREAM}; charset=utf-8")
    response["Cache-Control"] = "no-cache, no-store"  # it carries the question's secret token
    response["X-Accel-Buffering"] = "no"
    return response


def first_event(events: Generator[AnswerEvent, None, None]) -> AnswerSources:
    """Run ``events`` to its first event (the question stored, sources ranked): errors such as
    ``QuestionInvalid`` are raised here, before any response is started."""
    first = next(events)
    if not isinstance(first, AnswerSources):  # pragma: no cover - question_answer_events' contract
        raise TypeError(f"expected AnswerSources first, got {type(first).__name__}")
    return first
