"""``GET /widget.js`` and ``GET /widget/demo/`` (the widget itself is driven in tests/browser/test_widget.py)."""

from __future__ import annotations

import re

import pytest
from django.test import Client


def test_widget_script_is_javascript_cached_and_revalidated_by_etag(client: Client, settings: object) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert re.fullmatch(r"public, max-age=3600|max-age=3600, public", response["Cache-Control"])
    assert b"/api/v1/questions/" in response.content and b'credentials: "omit"' in response.content
    again = client.get("/widget.js", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again["ETag"] == response["ETag"] and not again.content
    assert client.get("/widget.js", HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_widget_script_is_only_read(client: Client) -> None:
    assert client.post("/widget.js").status_code == 405
    head = client.head("/widget.js")  # link checkers and caches ask HEAD
    assert head.status_code == 200 and head["ETag"] and not head.content


@pytest.mark.parametrize(
    ("query", "accept", "language"),
    [
        ("", "ko", "ko"),
        ("", "en-US,en", "en"),
        ("?lang=en", "ko", "en"),
        ("?lang=ko", "en", "ko"),
        ("?lang=xx", "en", "en"),
    ],
)
def test_demo_page_embeds_the_widget_with_one_script_tag(
    client: Client, query: str, accept: str, language: str
) -> None:
    response = client.get(f"/widget/demo/{query}", HTTP_ACCEPT_LANGUAGE=accept)
    assert response.status_code == 200
    html = response.content.decode()
    tags = re.findall(r"<script[^>]*>", html)
    assert tags == [
        f'<script src="http://testserver/widget.js" defer data-lang="{language}" data-position="right" '
        'data-accent="#0f766e">'
    ]
    assert "<style" not in html and " style=" not in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    # The page's own text is in the widget's language too (?lang switched only the widget).
    heading = "Nabi Market blog" if language == "en" else "나비마켓 블로그"
    assert f"<h1>{heading}</h1>" in html and f'<html lang="{language}">' in html
    assert response["Content-Language"] == language
