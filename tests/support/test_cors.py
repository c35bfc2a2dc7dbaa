"""Cross-origin use of the API (django-cors-headers): only the allow-listed sites, only /api/, no credentials."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.portal.test_settings import _manage

pytestmark = pytest.mark.django_db

BLOG = "https://blog.example.com"


@pytest.fixture
def widget_origins(settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = [BLOG, "http://localhost:8080"]


def preflight(client: Client, path: str, origin: str) -> Any:
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )


def ask(client: Client, origin: str) -> Any:
    return client.post(
        "/api/v1/questions/", {"question": "환불은 며칠 걸리나요?"}, content_type="application/json", HTTP_ORIGIN=origin
    )


def test_an_allowed_origin_gets_the_headers_on_preflight_and_post(
    client: Client, widget_origins: None, sample_articles: dict[str, Any]
) -> None:
    response = preflight(client, "/api/v1/questions/", BLOG)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == BLOG
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "content-type" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response  # the widget's requests carry no cookies
    answered = ask(client, BLOG)
    assert answered.status_code == 201 and answered.json()["sources"]
    assert answered["Access-Control-Allow-Origin"] == BLOG
    assert answered["Access-Control-Expose-Headers"] == "Retry-After"
    assert "Access-Control-Allow-Credentials" not in answered
    assert "origin" in answered["Vary"].lower()  # caches keep one answer per origin


def test_errors_carry_the_headers_too_so_the_widget_can_read_them(client: Client, widget_origins: None) -> None:
    response = client.post(
        "/api/v1/tickets/", {"question_id": 1, "email": "x"}, content_type="application/json", HTTP_ORIGIN=BLOG
    )
    assert response.status_code == 400 and response["Access-Control-Allow-Origin"] == BLOG


@pytest.mark.parametrize(
    "origin", ["https://evil.example.net", "http://blog.example.com", "https://blog.example.com.evil.net"]
)
def test_an_origin_not_in_the_list_gets_no_cors_headers(client: Client, widget_origins: None, origin: str) -> None:
    response = preflight(client, "/api/v1/questions/", origin)
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    answered = ask(client, origin)
    assert not [h for h in answered.headers if h.lower().startswith("access-control-")]


def test_pages_outside_the_api_never_get_cors_headers(client: Client, widget_origins: None) -> None:
    for path in ("/", "/admin/login/"):
        response = client.get(path, HTTP_ORIGIN=BLOG)
        assert "Access-Control-Allow-Origin" not in response, path


def test_no_origin_is_allowed_by_default_and_the_list_comes_from_the_environment() -> None:
    code = "from django.conf import settings as s; print(s.CORS_ALLOWED_ORIGINS, s.CORS_ALLOW_CREDENTIALS)"
    assert _manage("shell", "-v", "0", "-c", code, env={"DJANGO_DEBUG": "1"}).stdout.strip() == "[] False"
    env = {"DJANGO_DEBUG": "1", "PORTAL_WIDGET_ORIGINS": f"{BLOG}, https://shop.example.com,"}
    out = _manage("shell", "-v", "0", "-c", code, env=env).stdout.strip()
    assert out == f"['{BLOG}', 'https://shop.example.com'] False"


def test_a_malformed_origin_stops_start_up_with_a_message() -> None:
    result = _manage("check", env={"DJANGO_DEBUG": "1", "PORTAL_WIDGET_ORIGINS": "blog.example.com"})
    assert result.returncode != 0
    assert "corsheaders.E013" in result.stderr + result.stdout
