"""Hostile input renders inert — pages and emails — under a Content-Security-Policy; admin logins are throttled."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from knowledge.models import Article
from knowledge.rendering import render_markdown
from knowledge.services import article_index
from support.models import AnswerPolicy, Question, Ticket
from support.outbox import email_delivery_send
from tests.fake_openai import FakeOpenAI, chat_reply

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    '"><svg onload=alert(1)>',
    '<a href="javascript:alert(1)">click</a>',
]
LIVE_MARKUP = re.compile(r"<script(?![^>]*\bsrc=\"/static/)|<img[^>]*onerror|<svg[^>]*onload|href=\"javascript:", re.I)


def inert(html: str) -> bool:
    """No executable markup from a payload: every tag it tried to open arrived escaped."""
    return LIVE_MARKUP.search(html) is None


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_in_question_and_details_is_escaped_on_pages_and_in_emails(
    client: Client, sample_articles: dict[str, Any], payload: str
) -> None:
    response = client.post("/", {"question": f"환불 {payload}"})
    question_id = int(re.search(r"/questions/(\d+)/", response["Location"])[1])
    page = client.get(f"/questions/{question_id}/").content.decode()
    assert inert(page) and "&lt;" in page
    client.post(f"/questions/{question_id}/escalate/", {"email": "kim@example.com", "details": payload})
    ticket = Ticket.objects.get(question_id=question_id)
    ticket_page = client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert inert(ticket_page) and ticket_page.count("&lt;") >= 2
    for delivery in ticket.deliveries.all():
        email_delivery_send(delivery_id=delivery.pk)
    for message in mail.outbox:
        assert inert(message.alternatives[0].content)
    notify = next(m for m in mail.outbox if m.to == ["support-team@example.com"])
    assert payload in notify.body  # the plain-text part keeps the customer's words as they are


def test_script_in_article_markdown_is_removed(client: Client, live_kb: Any) -> None:
    body = "\n\n".join(["Refunds take 3 days.", *PAYLOADS, "[away](//evil.example/x) ![pixel](//evil.example/p.png)"])
    article = Article.objects.create(
        knowledge_base=live_kb, title="Refunds", slug="refunds", body=body, language="en",
        status=Article.Status.PUBLISHED, published_at=timezone.now(),
    )  # fmt: skip
    page = client.get(f"/articles/{article.slug}/").content.decode()
    assert inert(page) and "Refunds take 3 days." in page
    assert "evil.example" not in page  # protocol-relative link and image dropped


@pytest.mark.parametrize(
    "markdown",
    ["[a](//evil.example/x)", "![i](//evil.example/i.png)", '<a href="/\\evil.example">x</a>', "[a]( //evil.example)"],
)
def test_protocol_relative_urls_are_dropped(markdown: str) -> None:
    assert "evil.example" not in render_markdown(markdown)


def test_relative_and_https_links_survive(client: Client) -> None:
    html = render_markdown("[here](/articles/refunds/) and [there](https://example.com/x)")
    assert 'href="/articles/refunds/"' in html and 'href="https://example.com/x"' in html


def test_model_output_with_markup_is_escaped(
    client: Client,
    fake_openai: FakeOpenAI,
    settings: Settings,
    live_kb: Any,
) -> None:
    fake_openai.apply_settings(settings, timeout=2.0, max_retries=0)
    settings.CHAT_PROVIDER = "openai"
    article = Article.objects.create(
        knowledge_base=live_kb, title="환불 정책", slug="refund", language="ko", status=Article.Status.PUBLISHED,
        published_at=timezone.now(), body="결제 후 14일 이내에는 전액 환불이 가능합니다. 환불은 마이페이지에서 신청합니다.",
    )  # fmt: skip
    article_index(article_id=article.pk)
    fake_openai.script(
        chat_reply({"answer": PAYLOADS[1] + " 14일 이내 환불", "cited_sources": [1], "answerable": True})
    )
    AnswerPolicy.objects.update_or_create(pk=1, defaults={"confidence_threshold": 0.0})
    response = client.post("/", {"question": "환불은 결제 후 며칠 이내에 가능한가요?"})
    question = Question.objects.get(pk=int(re.search(r"/questions/(\d+)/", response["Location"])[1]))
    assert question.answer_kind == "llm" and "onerror" in question.answer
    page = client.get(f"/questions/{question.pk}/").content.decode()
    assert inert(page) and "&lt;img" in page


@pytest.mark.parametrize("path", ["/", "/admin/login/"])
def test_pages_and_admin_carry_a_strict_content_security_policy(client: Client, path: str) -> None:
    response = client.get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    html = response.content.decode()
    assert "<style" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)  # nothing inline to block
    assert not re.search(r"\sstyle=\"", html) and not re.search(r"\son[a-z]+=\"", html)


def test_admin_login_is_locked_after_repeated_failures(client: Client, admin_user: Any, settings: Settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    guesser = {"REMOTE_ADDR": "203.0.113.77"}
    for _ in range(3):
        failed = client.post("/admin/login/", {"username": "admin", "password": "wrong"}, **guesser)
        assert failed.status_code in (200, 429)
    locked = client.post("/admin/login/", {"username": "admin", "password": "password"}, **guesser)
    assert locked.status_code == 429  # even the right password is refused while locked
    assert "_auth_user_id" not in client.session
    elsewhere = Client().post("/admin/login/", {"username": "admin", "password": "password"}, REMOTE_ADDR="192.0.2.10")
    assert elsewhere.status_code == 302  # staff elsewhere are not locked out by the guesser


def test_a_body_with_its_own_title_heading_leaves_the_page_one_h1() -> None:
    html = render_markdown("# Refunds\n\nIntro.\n\n## Fees\n\nText.\n\n###### Small")
    assert "<h1" not in html and "<h2>Refunds</h2>" in html and "<h3>Fees</h3>" in html and "<h6>Small</h6>" in html
    assert "<h2>Fees</h2>" in render_markdown("Intro.\n\n## Fees")  # no h1: levels as written


@pytest.mark.parametrize("path", ["/articles/a%00b/", "/tickets/T-1%00/", "/tickets/T-1%00/messages/"])
def test_a_nul_character_in_a_path_is_not_found(client: Client, live_kb: Any, path: str) -> None:
    assert client.get(path).status_code == 404  # PostgreSQL text cannot hold NUL: it had been a 500
    assert client.get("/articles/unknown-slug/").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/admin/support/ticket/?status=%00", "/admin/knowledge/article/?language=%00", "/?q=a%00", "/api/v1/x/?a%00=1"],
)
def test_a_nul_character_in_the_query_string_is_a_bad_request(admin_client: Client, path: str) -> None:
    response = admin_client.get(path, HTTP_ACCEPT_LANGUAGE="en")  # admin list filters had been a 500
    assert response.status_code == 400
    assert "The address holds a character that is not allowed (NUL)." in response.content.decode()
