"""Answers as Server-Sent Events (``Accept: text/event-stream``), through the real view and,
for the chat model, the real ``openai`` client against the fake server's streaming mode."""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.test import Client
from pytest_django import Settings

from support.answering import AnswerModelError, GeneratedAnswer
from support.answering.openai import OpenAIChatProvider, partial_answer
from support.api import QuestionOutSerializer
from support.models import AnswerPolicy, Question
from tests.fake_openai import CHAT, FakeOpenAI, chat_reply, error
from tests.support.test_api_security import fresh_ip
from tests.support.test_openai_chat import SOURCES

QUESTIONS = "/api/v1/questions/"
SSE = {"HTTP_ACCEPT": "text/event-stream"}
# Long enough to arrive in many tokens; escapes and Korean test the partial JSON reading.
LONG = {
    "answer": '  To reset your password, open Settings and choose "Forgot password".\nWe email you a link '
    "that stays valid for 30 minutes. 비밀번호 재설정 링크는 30분 동안 유효합니다.  ",
    "cited_sources": [1],
    "answerable": True,
    "answer_span": "30 minutes",
}


def events_of(body: bytes) -> list[tuple[str, Any]]:
    """``[(event, data)]`` of an SSE body; every frame must have both lines."""
    frames = []
    for frame in body.decode().split("\n\n"):
        if frame.strip():
            event, data = frame.split("\n")
            assert event.startswith("event: ") and data.startswith("data: "), frame
            frames.append((event[7:], json.loads(data[6:])))
    return frames


def ask_streamed(client: Client, text: str, **extra: Any) -> tuple[Any, list[tuple[str, Any]]]:
    response = client.post(QUESTIONS, {"question": text, **extra}, content_type="application/json", **SSE)
    if not response.streaming:
        return response, []
    return response, events_of(b"".join(response.streaming_content))


@pytest.fixture
def llm(fake_openai: FakeOpenAI, settings: Settings) -> FakeOpenAI:
    fake_openai.apply_settings(settings, timeout=2.0, max_retries=0)
    fake_openai.tokens_per_second = 0  # as fast as it can: these tests check order, not pace
    settings.CHAT_PROVIDER = "openai"
    return fake_openai


def test_extractive_stream_is_sources_one_delta_done_and_done_equals_the_json_answer(
    client: Client, sample_articles: dict[str, Any], settings: Settings
) -> None:
    settings.CHAT_PROVIDER = "extractive"
    text = "How long is the password reset link valid?"
    response, events = ask_streamed(client, text, REMOTE_ADDR=fresh_ip())
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response["Cache-Control"] == "no-cache, no-store" and response["X-Accel-Buffering"] == "no"
    assert [name for name, _ in events] == ["sources", "delta", "done"]
    done = events[-1][1]
    plain = client.post(QUESTIONS, {"question": text}, content_type="application/json").json()
    assert set(done) == set(plain)
    differs = {"id", "conversation_id", "token"}
    assert {k: v for k, v in done.items() if k not in differs} == {k: v for k, v in plain.items() if k not in differs}
    assert events[1][1] == {"text": done["answer"]} and "30 minutes" in done["answer"]
    assert events[0][1] == done["sources"]  # extractive: no citation reordering
    assert set(events[0][1][0]) == {"title", "url", "excerpt", "score", "language", "kind"}
    stored = Question.objects.get(pk=done["id"])
    assert stored.status == done["status"] == "answered" and stored.answer == done["answer"]


def test_chat_model_deltas_concatenate_to_the_answer(
    client: Client, llm: FakeOpenAI, sample_articles: dict[str, Any]
) -> None:
    llm.script(chat_reply(LONG, usage={"prompt_tokens": 300, "completion_tokens": 60}))
    response, events = ask_streamed(client, "How do I reset my password?")
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done" and names.count("delta") > 10
    done = events[-1][1]
    assert done["status"] == "answered", done
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    assert streamed == done["answer"] == LONG["answer"].strip()
    assert done["answer_span"] == "30 minutes" and done["answer_span_start"] == done["answer"].index("30 minutes")
    [request] = llm.requests_to(CHAT)
    assert request.body["stream"] is True and request.body["response_format"] == {"type": "json_object"}
    stored = Question.objects.get(pk=done["id"])
    assert stored.usage == {"prompt_tokens": 300, "completion_tokens": 60}  # the include_usage chunk
    assert llm.streams[0].tokens == llm.streams[0].total and not llm.streams[0].aborted


def test_below_the_threshold_done_follows_sources_without_a_model_call(
    client: Client, llm: FakeOpenAI, sample_articles: dict[str, Any]
) -> None:
    AnswerPolicy.objects.update_or_create(pk=AnswerPolicy.SINGLETON_PK, defaults={"confidence_threshold": 1.0})
    _, events = ask_streamed(client, "How do I reset my password?")
    assert [name for name, _ in events] == ["sources", "done"]
    assert events[0][1]  # the sources are still shown ("these might help")
    assert events[1][1]["status"] == "not_confident" and events[1][1]["escalation_recommended"] is True
    assert llm.requests == [] or llm.requests_to(CHAT) == []


def test_model_dropping_mid_reply_ends_with_a_model_error_done_and_the_question_saved(
    client: Client, llm: FakeOpenAI, sample_articles: dict[str, Any]
) -> None:
    llm.script(chat_reply(LONG, drop_after=12))
    _, events = ask_streamed(client, "How do I reset my password?")
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done" and "delta" in names
    done = events[-1][1]
    assert done["status"] == "model_error" and done["escalation_recommended"] is True and done["answer"] == ""
    stored = Question.objects.get(pk=done["id"])
    assert stored.status == Question.Status.MODEL_ERROR and stored.error.startswith("connection")
    assert llm.streams[0].dropped
    llm.script(error(500))  # the non-streaming path's model error gives the same status and flags
    plain = client.post(QUESTIONS, {"question": "How do I reset my password?"}, content_type="application/json")
    assert {k: plain.json()[k] for k in ("status", "escalation_recommended", "answer")} == {
        k: done[k] for k in ("status", "escalation_recommended", "answer")
    }


@pytest.mark.django_db(transaction=True)
def test_a_client_that_hangs_up_closes_the_model_stream_and_the_question_is_kept(
    live_server: Any, llm: FakeOpenAI, sample_articles: dict[str, Any]
) -> None:
    llm.tokens_per_second = 20  # LONG is ~50 tokens: ~2.5 s if nobody hangs up
    llm.script(chat_reply(LONG))
    url = urlsplit(live_server.url)
    body = json.dumps({"question": "How do I reset my password?"}).encode()
    head = (
        f"POST {QUESTIONS} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Accept: text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        sock.sendall(head.encode() + body)
        seen = b""
        while b"event: delta" not in seen:
            received = sock.recv(65536)
            assert received, seen
            seen += received
        assert seen.startswith(b"HTTP/1.1 200")
    # hung up after the first piece of the answer
    assert llm.streams and llm.streams[0].finished.wait(10)
    record = llm.streams[0]
    assert record.aborted and record.tokens < record.total, record
    deadline = time.monotonic() + 10
    while not Question.objects.exclude(status=Question.Status.RECEIVED).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = Question.objects.get()
    assert stored.status == Question.Status.MODEL_ERROR and stored.error.startswith("disconnected")
    assert stored.sources and stored.escalation_recommended


def test_errors_stay_json_with_their_status_codes(
    client: Client, sample_articles: dict[str, Any], settings: Settings
) -> None:
    def post(data: str, content_type: str = "application/json", **extra: Any) -> Any:
        response = client.post(QUESTIONS, data, content_type=content_type, REMOTE_ADDR=extra.pop("ip", "10.9.9.9"),
                               **SSE, **extra)  # fmt: skip
        assert not response.streaming and response["Content-Type"].startswith("application/json"), response
        return response

    assert post(json.dumps({"question": "   "})).status_code == 400
    assert post(json.dumps({"question": "hi", "conversation_id": 999999, "token": "x"})).status_code == 404
    assert post("question=hi", content_type="application/x-www-form-urlencoded").status_code == 415
    assert post(json.dumps({"question": "x" * (settings.API_MAX_BODY_BYTES + 1)})).status_code == 413
    settings.ASK_RATE_LIMIT = "1/m"
    ip = fresh_ip()
    ok = client.post(QUESTIONS, {"question": "refund?"}, content_type="application/json", REMOTE_ADDR=ip, **SSE)
    assert ok.streaming
    b"".join(ok.streaming_content)
    limited = post(json.dumps({"question": "refund?"}), ip=ip)
    assert limited.status_code == 429 and limited["Retry-After"]


def test_a_busy_database_is_a_json_503_before_the_stream_starts(client: Client, db: None) -> None:
    from tests.support.test_middleware import _busy

    with mock.patch("support.api.question_answer_events", side_effect=_busy()):
        response = client.post(QUESTIONS, {"question": "refund?"}, content_type="application/json", **SSE)
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert not response.streaming and response["Content-Type"] == "application/json"


def test_without_the_accept_header_nothing_changes(client: Client, sample_articles: dict[str, Any]) -> None:
    response = client.post(QUESTIONS, {"question": "refund?"}, content_type="application/json")
    assert response.status_code == 201 and response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"  # it carries the question's secret token


@pytest.mark.parametrize(
    "accept",
    [
        "application/json, text/event-stream;q=0", "text/event-stream;q=0", "*/*",
        "text/event-stream;q=0.1, application/json",  # JSON preferred: it had streamed for any q > 0
    ],
)  # fmt: skip
def test_a_refused_or_unnamed_event_stream_gets_the_json_answer(
    client: Client, sample_articles: dict[str, Any], accept: str
) -> None:
    response = client.post(QUESTIONS, {"question": "refund?"}, content_type="application/json", HTTP_ACCEPT=accept)
    assert response.status_code == 201 and not response.streaming
    assert response["Content-Type"] == "application/json" and "id" in response.json()


def test_provider_stream_pieces_match_the_whole_answer(llm: FakeOpenAI) -> None:
    provider = OpenAIChatProvider()
    llm.script(chat_reply(LONG))
    whole = provider.answer(question="q", sources=SOURCES, term_weights={}, language="en")
    llm.script(chat_reply(LONG))
    parts = list(provider.answer_stream(question="q", sources=SOURCES, term_weights={}, language="en"))
    *pieces, last = parts
    assert isinstance(last, GeneratedAnswer) and last == whole
    assert "".join(str(p) for p in pieces) == whole.text and len(pieces) > 10
    assert partial_answer('{"answer": "  a\\u00') == "a" and partial_answer("") == ""


def test_provider_stream_reports_how_a_reply_ended(llm: FakeOpenAI) -> None:
    provider = OpenAIChatProvider()
    llm.script(chat_reply(LONG, finish_reason="length"), chat_reply("not json"))
    for code in ("truncated", "invalid_output"):
        with pytest.raises(AnswerModelError) as failed:
            list(provider.answer_stream(question="q", sources=SOURCES, term_weights={}, language="en"))
        assert failed.value.code == code


def test_the_ask_page_streams_for_its_script_and_the_session_owns_the_question(
    client: Client, sample_articles: dict[str, Any], settings: Settings
) -> None:
    settings.CHAT_PROVIDER = "extractive"
    response = client.post("/", {"question": "How long is the password reset link valid?"}, **SSE)
    assert response.streaming and response["Content-Type"] == "text/event-stream; charset=utf-8"
    events = events_of(b"".join(response.streaming_content))
    assert [name for name, _ in events] == ["sources", "delta", "done"]
    done = events[-1][1]
    assert set(done) == set(QuestionOutSerializer().fields)  # the API's JSON (issue 9), token included
    page = client.get(f"/questions/{done['id']}/")  # the session was marked before the stream started
    assert page.status_code == 200 and done["answer"] in page.content.decode()
    follow = client.post(f"/questions/{done['id']}/follow-up/", {"question": "And after an hour?"}, **SSE)
    assert follow.streaming
    follow_done = events_of(b"".join(follow.streaming_content))[-1][1]
    assert follow_done["conversation_id"] == done["conversation_id"]
    assert client.get(f"/questions/{follow_done['id']}/").status_code == 200
    assert Client().get(f"/questions/{follow_done['id']}/").status_code == 404  # another session: no
    invalid = client.post("/", {"question": "  "}, **SSE)  # form errors: the page, as without the script
    assert not invalid.streaming and invalid.status_code == 200


def test_the_pages_load_the_script_and_its_korean_strings(client: Client, db: None) -> None:
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert '<script src="/static/support/ask-stream.js" defer></script>' in page
    assert "data-stream" in page and "도움말 문서를 찾아보고 있습니다…" in page and "답변을 작성하고 있습니다…" in page


@pytest.mark.parametrize(
    ("accept", "streams"),
    [
        ("text/event-stream, application/json", True),  # the widget: a stream when the portal has one
        ("application/json, text/event-stream", True),  # the pages' rule: listed at all means streamed
        ("application/json", False),
        ("*/*", False),
        ("text/*", True),  # admits the stream and not JSON: it had been sent JSON (nineteenth session's audit)
        ("text/*, application/json;q=0.5", False),
    ],
)
def test_a_listed_event_stream_is_streamed_whatever_else_accept_lists(
    client: Client, sample_articles: dict[str, Any], settings: Settings, accept: str, streams: bool
) -> None:
    settings.CHAT_PROVIDER = "extractive"
    response = client.post(
        QUESTIONS, {"question": "How do I reset my password?"}, content_type="application/json",
        HTTP_ACCEPT=accept, REMOTE_ADDR=fresh_ip(),
    )  # fmt: skip
    assert response.streaming is streams
    if streams:
        assert response.status_code == 200 and response["Content-Type"] == "text/event-stream; charset=utf-8"
        names = [name for name, _ in events_of(b"".join(response.streaming_content))]
        assert names[0] == "sources" and names[-1] == "done"
    else:
        assert response.status_code == 201 and response.json()["sources"]
