"""The insights dashboard in a real browser (Chromium), English and Korean, with a realistic week of data.

Besides checking what a support agent sees, the test writes the README's screenshots:
``.data/screenshots/<test>/insights-en.png`` and ``insights-ko.png`` (the top of the page,
figures and charts), copied by hand to ``docs/`` when the dashboard changes.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from knowledge.models import Article
from knowledge.services import knowledge_base_get_live
from support.insights.selectors import Period, insights_for
from support.models import EmailDelivery, Feedback, Question, Ticket
from support.roles import SUPPORT_AGENTS
from tests.browser.conftest import open_tab

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

ARTICLES = [
    ("환불 정책 안내", "refund-policy", ["환불은 언제 들어오나요?", "How long does a refund take?"]),
    ("배송 기간과 배송비", "shipping", ["배송은 며칠 걸리나요?", "Is shipping free over 30,000 won?"]),
    ("비밀번호 재설정", "password-reset", ["비밀번호를 잊어버렸어요", "The reset email never arrived"]),
    ("주문 취소", "order-cancellation", ["주문을 취소하고 싶어요", "Can I cancel after shipping?"]),
    ("사이즈 교환", "size-exchange", ["사이즈 교환은 무료인가요?"]),
    ("나비 포인트", "nabi-points", ["포인트 유효기간이 있나요?"]),
    ("결제 수단", "payment-methods", ["무통장 입금도 되나요?"]),
    ("회원 탈퇴", "delete-account", []),
]
UNANSWERED = ["화성 탐사선 발사 일정이 궁금해요", "Do you ship to Antarctica?", "매장에서 직접 픽업 가능한가요?"]
PER_DAY = [34, 41, 38, 52, 47, 23, 29]  # the last seven days, oldest first
REASONS = {
    Question.Status.NOT_CONFIDENT: Ticket.Reason.LOW_CONFIDENCE,
    Question.Status.NO_SOURCES: Ticket.Reason.NO_SOURCES,
}
SIZE = {"width": 1280, "height": 1360}  # the figures and the three charts


def seed_week(rng: random.Random) -> None:
    """Questions of the last seven days with tickets, replies and feedback in realistic shares."""
    kb = knowledge_base_get_live()
    articles = [
        (Article.objects.create(knowledge_base=kb, title=title, slug=slug, body="본문", status="published"), asked)
        for title, slug, asked in ARTICLES
    ]
    weights = [9, 7, 6, 4, 3, 2, 2, 0]  # refunds and shipping are asked most
    today = timezone.localdate()
    for offset, count in enumerate(PER_DAY):
        day = today - dt.timedelta(days=len(PER_DAY) - 1 - offset)
        for _ in range(count):
            when = timezone.make_aware(dt.datetime.combine(day, dt.time(rng.randrange(8, 23), rng.randrange(60))))
            answered = rng.random() < 0.74
            if answered:
                article, asked = rng.choices(articles, weights=weights)[0]
                text, status, confidence = rng.choice(asked), Question.Status.ANSWERED, rng.uniform(0.62, 0.97)
                sources = [{"article_id": article.pk, "title": article.title, "cited": True}]
            else:
                text, sources = rng.choice(UNANSWERED), []
                status = rng.choice([Question.Status.NOT_CONFIDENT, Question.Status.NO_SOURCES])
                confidence = rng.uniform(0.1, 0.5)
            q = Question.objects.create(
                text=text, status=status, confidence=confidence, sources=sources,
                answer="안내 문서에 따르면 …" if answered else "", escalation_recommended=not answered,
            )  # fmt: skip
            Question.objects.filter(pk=q.pk).update(created_at=when)
            if rng.random() < (0.06 if answered else 0.6):
                reason = Ticket.Reason.CUSTOMER_REQUEST if answered else REASONS[status]
                ticket = Ticket.objects.create(question=q, email="customer@example.com", reason=reason)
                opened = when + dt.timedelta(minutes=3)
                Ticket.objects.filter(pk=ticket.pk).update(created_at=opened)
                if rng.random() < 0.7:
                    reply = EmailDelivery.objects.create(
                        ticket=ticket, kind=EmailDelivery.Kind.REPLY, recipient=ticket.email, body="답변드립니다."
                    )
                    replied = opened + dt.timedelta(minutes=rng.randrange(20, 600))
                    EmailDelivery.objects.filter(pk=reply.pk).update(created_at=replied)
            if answered and rng.random() < 0.3:
                helpful = rng.random() < 0.8
                comment = "" if helpful else rng.choice(["배송비 기준이 헷갈려요", "The steps did not match the app"])
                Feedback.objects.create(question=q, helpful=helpful, comment=comment)


def test_dashboard_in_english_and_korean(browser: Any, request: pytest.FixtureRequest, live_server: Any) -> None:
    seed_week(random.Random(8))
    agent = User.objects.create_user("agent", password="pw-agent-123", is_staff=True)
    agent.groups.add(Group.objects.get(name=SUPPORT_AGENTS))
    expected = insights_for(Period.last_days(7))
    assert expected.questions == sum(PER_DAY) and expected.escalated and expected.unhelpful
    shots: dict[str, bytes] = {}
    for locale, lang, questions_label, chart_title, period_label in (
        ("en-US", "en", "Questions", "Questions per day", "last 7 days"),
        ("ko-KR", "ko", "질문", "일별 질문 수", "최근 7일"),
    ):
        tab = open_tab(browser, request, locale=locale, viewport=SIZE)
        page = tab.page
        errors: list[str] = []  # with where they came from, which Tab.console_errors leaves out
        page.on(
            "console",
            lambda m, errors=errors: errors.append(f"{m.location.get('url')}: {m.text}") if m.type == "error" else None,
        )
        page.goto(f"{live_server.url}/admin/login/?next=/admin/insights/%3Fdays%3D7")
        page.fill("#id_username", "agent")
        page.fill("#id_password", "pw-agent-123")
        page.click("input[type=submit]")
        page.wait_for_url(lambda url: "/admin/insights/?days=7" in url)
        assert page.locator("#id_days option:checked").inner_text() == period_label
        figures = page.locator(".insights-figures")
        assert figures.locator("div").first.inner_text().split("\n")[:2] == [questions_label, f"{sum(PER_DAY)}"]
        charts = page.locator("svg[role=img]")
        assert charts.count() == 3 and all(charts.nth(i).is_visible() for i in range(3))
        assert page.locator("#chart-per-day-title").text_content() == chart_title
        assert page.locator("#chart-per-day-title + desc ~ rect.bar-total").count() == len(PER_DAY)
        page.locator("#per-day summary").click()  # the chart's data table
        rows = page.locator("#per-day table tbody tr")
        assert rows.count() == len(PER_DAY) and rows.last.locator("td").first.inner_text() == str(PER_DAY[-1])
        page.locator("#per-day summary").click()  # closed again for the screenshot
        assert page.locator("#unhelpful table tbody tr").count() == len(expected.unhelpful)
        shots[lang] = page.screenshot()  # the viewport: figures and the three charts
        # No console error: Chromium's own /favicon.ico request had been a 404 until the admin
        # named the portal's icon (twentieth session).
        assert errors == [] and tab.console_errors == []
        assert not tab.page_errors and not tab.dialogs
    for lang, png in shots.items():  # each open_tab empties the test's folder: write both at the end
        (tab.folder / f"insights-{lang}.png").write_bytes(png)
