"""The OpenAPI schema (drf-spectacular) against the live endpoints, with schemathesis.

Schemathesis reads the schema from ``GET /api/schema/`` of a live server (pytest-django's
``live_server``: the whole middleware stack, a real socket) and sends requests it derives
from it: valid ones, and invalid ones (wrong types, missing fields, unexpected values).
Every response is checked by schemathesis' default checks: never a 5xx, a documented
status code and content type, a body matching the documented shape for that code, the
documented headers (``Retry-After``). The error responses that random data rarely reaches
(404, 409, 413, 415, 429, 503) are provoked one by one and validated the same way.

Schemathesis' pytest integration (``schema.parametrize``) is not used: its lazy fixture
loader touches a pytest internal that pytest 9 removed, so the strategies are drawn in a
plain Hypothesis test instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import requests
import schemathesis
from django.conf import settings
from django.db import OperationalError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tests.support.test_api_security import fresh_ip

pytestmark = pytest.mark.django_db(transaction=True)

QUESTIONS, TICKETS = "/api/v1/questions/", "/api/v1/tickets/"
FEEDBACK = "/api/v1/questions/{question_id}/feedback/"
# Left out: whether schema-valid data is always accepted and schema-invalid data always
# refused. The schema gives types; rules only the server knows (a blank question, the
# QUESTION_MAX_CHARS limit, NUL characters, Django's stricter email validator) answer with
# the documented 400, and the API accepts a number as a question (``{"question": 5}`` is
# 201, tests/support/test_api_security.py), a leniency kept as it is.
LENIENT = [positive_data_acceptance, negative_data_rejection]


@pytest.fixture
def api_schema(live_server: Any, sample_articles: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")


def test_the_schema_documents_every_public_endpoint_and_its_errors(api_schema: Any) -> None:
    raw = api_schema.raw_schema
    assert raw["openapi"].startswith("3.")
    documented = {path: sorted(raw["paths"][path]["post"]["responses"]) for path in raw["paths"]}
    assert documented == {
        QUESTIONS: [
            "200",
            "201",
            "400",
            "404",
            "405",
            "406",
            "411",
            "413",
            "415",
            "429",
            "503",
        ],  # 200: the streamed answer
        TICKETS: ["201", "400", "404", "405", "406", "409", "411", "413", "415", "429", "503"],
        FEEDBACK: ["200", "201", "400", "404", "405", "406", "409", "411", "413", "415", "429", "503"],
    }
    answer = raw["components"]["schemas"]["QuestionOut"]
    assert set(answer["required"]) == {
        "id", "conversation_id", "token", "answer", "answer_kind", "answer_span", "answer_span_start", "confidence",
        "escalation_recommended", "status", "sources",
    }  # fmt: skip
    assert raw["paths"][QUESTIONS]["post"]["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    # The limits the views enforce are in the schema, from this deployment's settings.
    components = raw["components"]["schemas"]
    assert components["QuestionIn"]["properties"]["question"]["maxLength"] == settings.QUESTION_MAX_CHARS
    assert components["QuestionIn"]["properties"]["question"]["minLength"] == 1
    assert components["TicketIn"]["properties"]["details"]["maxLength"] == settings.TICKET_DETAILS_MAX_CHARS
    assert components["FeedbackIn"]["properties"]["comment"]["maxLength"] == settings.FEEDBACK_COMMENT_MAX_CHARS
    # Accept chooses JSON or the stream; there is no ?format= parameter that did nothing.
    assert all(p["name"] != "format" for p in raw["paths"][QUESTIONS]["post"].get("parameters", []))
    # The streamed answer (Accept: text/event-stream) is the 200; everything else is JSON only.
    questions = raw["paths"][QUESTIONS]["post"]["responses"]
    assert list(questions["200"]["content"]) == ["text/event-stream"]
    assert "event: done" in questions["200"]["content"]["text/event-stream"]["examples"]["StreamedAnswer"]["value"]
    assert all(list(questions[code]["content"]) == ["application/json"] for code in questions if code != "200")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path", [QUESTIONS, TICKETS, FEEDBACK])
def test_generated_requests_get_documented_responses_and_never_a_5xx(
    api_schema: Any, live_server: Any, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path]["POST"]
    seen: set[int] = set()

    @hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        response = case.call_and_validate(base_url=live_server.url, excluded_checks=LENIENT)
        seen.add(response.status_code)

    check()
    assert seen and max(seen) < 500, seen
    if mode is GenerationMode.NEGATIVE:
        assert 400 in seen  # the invalid data was refused, not accepted


# --- the documented errors, provoked one by one --------------------------------------------


@pytest.fixture
def post(api_schema: Any, live_server: Any) -> Iterator[Any]:
    """POST ``body`` (JSON unless ``data`` is given) to ``path``; the response is validated against the schema."""
    session = requests.Session()

    def send(
        path: str,
        body: Any = None,
        *,
        data: str | None = None,
        path_parameters: dict[str, Any] | None = None,
        **headers: str,
    ) -> requests.Response:
        headers = {"Content-Type": "application/json", **headers}
        raw = data if data is not None else json.dumps(body)
        url = live_server.url + path.format(**(path_parameters or {}))
        response = session.post(url, data=raw.encode(), headers=headers, timeout=60)
        case = api_schema[path]["POST"].Case(
            body=body if body is not None else {}, media_type="application/json", path_parameters=path_parameters
        )
        # A 503 is documented (Retry-After, JSON) but is a 5xx all the same: the one place it is expected.
        case.validate_response(
            response, excluded_checks=[*LENIENT, *([not_a_server_error] if response.status_code == 503 else [])]
        )
        return response

    yield send
    session.close()


def test_an_answer_then_a_ticket_then_a_conflict_match_the_schema(post: Any) -> None:
    asked = post(QUESTIONS, {"question": "환불은 며칠 안에 처리되나요?"}).json()
    assert asked["sources"] and asked["token"]
    body = {"question_id": asked["id"], "token": asked["token"], "email": "kim@example.com", "details": "주문 1234"}
    first = post(TICKETS, body)
    assert first.status_code == 201 and first.json()["reference"].startswith("T-")
    again = post(TICKETS, body)
    assert again.status_code == 409 and again.json()["reference"] == first.json()["reference"]


def test_feedback_created_replaced_and_refused_match_the_schema(post: Any) -> None:
    asked = post(QUESTIONS, {"question": "환불은 며칠 안에 처리되나요?"}).json()
    ids = {"question_id": asked["id"]}
    first = post(FEEDBACK, {"token": asked["token"], "helpful": True}, path_parameters=ids)
    assert first.status_code == 201 and first.json()["helpful"] is True
    again = post(FEEDBACK, {"token": asked["token"], "helpful": False, "comment": "틀렸어요"}, path_parameters=ids)
    assert again.status_code == 200 and again.json()["comment"] == "틀렸어요"
    assert post(FEEDBACK, {"token": "not-it", "helpful": True}, path_parameters=ids).status_code == 404


def test_wrong_token_404_and_malformed_json_400_match_the_schema(post: Any) -> None:
    asked = post(QUESTIONS, {"question": "배송은 얼마나 걸리나요?"}).json()
    wrong = post(TICKETS, {"question_id": asked["id"], "token": "not-it", "email": "kim@example.com"})
    assert wrong.status_code == 404
    assert post(TICKETS, data='{"question_id": 1, "email": ').status_code == 400
    assert post(QUESTIONS, {"question": "   "}).status_code == 400


def test_oversized_and_non_json_bodies_match_the_schema(post: Any, settings: Any) -> None:
    settings.API_MAX_BODY_BYTES = 1000
    for path in (QUESTIONS, TICKETS):
        assert post(path, {"question": "가" * 2000}).status_code == 413
        assert (
            post(path, data="question=hi", **{"Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
        )


def test_throttled_and_database_busy_responses_carry_retry_after(post: Any, settings: Any) -> None:
    settings.ASK_RATE_LIMIT, settings.NUM_PROXIES = "1/m", 1
    address = fresh_ip()  # its own throttle bucket
    assert post(QUESTIONS, {"question": "환불은?"}, **{"X-Forwarded-For": address}).status_code == 201
    limited = post(QUESTIONS, {"question": "환불은?"}, **{"X-Forwarded-For": address})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    busy = OperationalError("connection failed: FATAL:  sorry, too many clients already")
    with mock.patch("support.api.question_answer", side_effect=busy):  # the live server runs in this process
        response = post(QUESTIONS, {"question": "환불은?"}, **{"X-Forwarded-For": fresh_ip()})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"


# --- Swagger UI --------------------------------------------------------------------------------


def test_swagger_ui_is_served_from_local_files_without_inline_code(client: Any) -> None:
    """The page renders in a real browser under the CSP in tests/browser; here: nothing from a CDN, nothing inline."""
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<style" not in html and "<script>" not in html and "https://" not in html
    assert "'unsafe-inline'" not in page["Content-Security-Policy"]
    scripts = re.findall(r'<script src="([^"]+)"', html) + re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in s for s in scripts) and "/api/docs/?script=" in scripts
    for url in scripts:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert body, url
        kind = response["Content-Type"]
        assert ("javascript" in kind) if url.endswith(".js") or "script" in url else ("text/css" in kind), (url, kind)
    assert b"/api/schema/" in client.get("/api/docs/?script=").content


@pytest.mark.django_db
@pytest.mark.parametrize("path", [QUESTIONS, TICKETS, FEEDBACK])
def test_the_documented_405_and_406_are_what_the_endpoints_answer(client: Any, path: str) -> None:
    path = path.replace("{question_id}", "1")
    wrong_method = client.get(path)
    assert wrong_method.status_code == 405 and "POST" in wrong_method["Allow"] and "detail" in wrong_method.json()
    unacceptable = client.post(path, {}, content_type="application/json", HTTP_ACCEPT="text/html")
    assert unacceptable.status_code == 406 and "detail" in unacceptable.json()


@pytest.mark.django_db
def test_the_schema_itself_is_served_as_json_with_format_json(client: Any, settings: Any) -> None:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200 and response.json()["openapi"].startswith("3.")
    settings.QUESTION_MAX_CHARS, settings.TICKET_DETAILS_MAX_CHARS = 123, 456  # this deployment's limits
    components = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert components["QuestionIn"]["properties"]["question"]["maxLength"] == 123
    assert components["TicketIn"]["properties"]["details"]["maxLength"] == 456
