"""The insights dashboard: its numbers on a known fixture, access, charts and tables, query count."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from knowledge.models import Article
from support.insights.selectors import Percentile, Period, insights_for
from support.models import ContentGapReport, EmailDelivery, Feedback, Question, Ticket

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
PERIOD = Period(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 7))
URL = reverse("insights:dashboard")
PERIOD_QUERY = "?start=2026-03-01&end=2026-03-07"


def at(day: int, hour: int = 12, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=SEOUL)


def cites(*articles: Article) -> list[dict[str, Any]]:
    return [{"article_id": a.pk, "title": a.title, "cited": True, "score": 0.5} for a in articles]


def question(
    when: dt.datetime, status: str, confidence: float, sources: list[dict[str, Any]] | None = None
) -> Question:
    q = Question.objects.create(
        text=f"질문 {when:%d %H} {status}", status=status, confidence=confidence, sources=sources or [],
        answer="답변" if status == Question.Status.ANSWERED else "",
        escalation_recommended=status != Question.Status.ANSWERED,
    )  # fmt: skip
    Question.objects.filter(pk=q.pk).update(created_at=when)  # auto_now_add can't be set on create
    return q


def ticket(q: Question, when: dt.datetime, reason: str, replied_after: dt.timedelta | None = None) -> Ticket:
    t = Ticket.objects.create(question=q, email="kim@example.com", reason=reason)
    Ticket.objects.filter(pk=t.pk).update(created_at=when)
    if replied_after is not None:
        reply = EmailDelivery.objects.create(ticket=t, kind=EmailDelivery.Kind.REPLY, recipient=t.email, body="답")
        EmailDelivery.objects.filter(pk=reply.pk).update(created_at=when + replied_after)
        # A later second reply moves replied_at; the first reply still counts.
        Ticket.objects.filter(pk=t.pk).update(replied_at=when + replied_after * 3, status=Ticket.Status.ANSWERED)
    return t


@pytest.fixture
def known(live_kb: Any) -> dict[str, Any]:
    """5 questions in the period (Mar 2 and Mar 4), 1 before it; articles A-D, A and B cited in it."""
    a, b, c, d = (
        Article.objects.create(knowledge_base=live_kb, title=title, slug=slug, body="본문", status="published")
        for title, slug in (("환불 안내", "a"), ("배송 안내", "b"), ("회원 안내", "c"), ("포인트 안내", "d"))
    )
    Article.objects.create(knowledge_base=live_kb, title="초안", slug="draft", body="본문", status="draft")
    answered, not_confident, no_sources = (
        Question.Status.ANSWERED, Question.Status.NOT_CONFIDENT, Question.Status.NO_SOURCES
    )  # fmt: skip
    q1 = question(at(2, 9), answered, 0.9, cites(a))
    q2 = question(at(2, 23), answered, 0.8, cites(a) + [{"article_id": b.pk, "title": "b", "cited": False}])
    q3 = question(at(4, 0), not_confident, 0.3, cites(b)[:0])
    q4 = question(at(4, 10), no_sources, 0.0)
    q5 = question(at(4, 18), answered, 0.7, cites(b))
    q6 = question(at(20, month=2), answered, 0.95, cites(c))  # before the period
    Feedback.objects.create(question=q1, helpful=True)
    Feedback.objects.create(question=q2, helpful=False, comment="<b>배송비</b>는요?")
    Feedback.objects.create(question=q6, helpful=False)  # outside the period
    ticket(q2, at(2, 23), Ticket.Reason.CUSTOMER_REQUEST)
    ticket(q3, at(4, 1), Ticket.Reason.LOW_CONFIDENCE, replied_after=dt.timedelta(hours=2))
    ticket(q6, at(20, month=2), Ticket.Reason.CUSTOMER_REQUEST, replied_after=dt.timedelta(hours=50))
    return {"articles": (a, b, c, d), "questions": (q1, q2, q3, q4, q5, q6)}


def test_numbers_on_a_known_fixture(known: dict[str, Any]) -> None:
    a, b, c, d = known["articles"]
    q1, q2, *_ = known["questions"]
    insights = insights_for(PERIOD)
    assert (insights.questions, insights.answered, insights.not_answered) == (5, 3, 2)
    assert insights.escalated == 2 and insights.deflected == 2 and insights.deflection_rate == pytest.approx(0.4)
    assert (insights.feedback, insights.helpful, insights.helpful_rate) == (2, 1, 0.5)
    assert insights.median_confidence == pytest.approx(0.7)  # of 0.9, 0.8, 0.3, 0.0, 0.7
    assert [r["reason"] for r in insights.escalated_by_reason] == ["customer_request", "low_confidence"]
    assert [r["count"] for r in insights.escalated_by_reason] == [1, 1]
    assert (insights.tickets_opened, insights.tickets_replied) == (2, 1)
    assert insights.median_first_reply == dt.timedelta(hours=2)  # the first reply, not the later replied_at
    days = {row["day"]: row for row in insights.per_day}
    assert len(insights.per_day) == 7 and sum(r["questions"] for r in insights.per_day) == 5
    assert (days[dt.date(2026, 3, 2)]["questions"], days[dt.date(2026, 3, 2)]["answered"]) == (2, 2)
    assert days[dt.date(2026, 3, 2)]["escalated"] == 1  # 23:00 Seoul is still Mar 2 (14:00 UTC)
    assert (days[dt.date(2026, 3, 4)]["questions"], days[dt.date(2026, 3, 4)]["answered"]) == (3, 1)
    assert days[dt.date(2026, 3, 3)]["questions"] == 0
    assert [(r["title"], r["count"]) for r in insights.top_cited] == [("환불 안내", 2), ("배송 안내", 1)]
    assert [r["title"] for r in insights.not_cited] == ["포인트 안내", "회원 안내"]  # drafts are not listed
    Article.objects.filter(title="회원 안내").update(published_at=timezone.now() + dt.timedelta(days=30))
    assert [r["title"] for r in insights_for(PERIOD).not_cited] == ["포인트 안내"]  # nor scheduled ones
    assert [f.question_id for f in insights.unhelpful] == [q2.pk]


def test_an_empty_period_has_zeros_and_no_rates(known: dict[str, Any]) -> None:
    insights = insights_for(Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 1, 3)))
    assert insights.questions == 0 and insights.deflection_rate is None and insights.helpful_rate is None
    assert insights.median_confidence is None and insights.median_first_reply is None
    assert [r["questions"] for r in insights.per_day] == [0, 0, 0]


def test_percentile_interpolates_like_postgresql(known: dict[str, Any]) -> None:
    values = Question.objects.exclude(confidence=None).aggregate(
        p25=Percentile("confidence", 0.25), p50=Percentile("confidence", 0.5)
    )
    assert values["p50"] == pytest.approx(0.75)  # six values: mean of 0.7 and 0.8
    assert values["p25"] == pytest.approx(0.4)  # 0.3 + 0.25 * (0.7 - 0.3)
    with pytest.raises(ValueError):
        Percentile("confidence", 1.5)


# --- the page -----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_admin_login(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login")) and "next=/admin/insights/" in response["Location"]


def test_staff_need_the_permission(client: Client) -> None:
    user = User.objects.create_user("agent", password="pw-agent-123", is_staff=True)
    client.force_login(user)
    assert client.get(URL).status_code == 403
    assert client.post(reverse("insights:recompute_gaps"), {"days": "7"}).status_code == 403
    assert "insights-link" not in client.get(reverse("admin:index")).content.decode()
    user.user_permissions.add(Permission.objects.get(codename="view_insights", content_type__app_label="support"))
    client.force_login(User.objects.get(pk=user.pk))  # fresh permission cache
    assert client.get(URL).status_code == 200
    assert "insights-link" in client.get(reverse("admin:index")).content.decode()


def test_dashboard_shows_the_figures_charts_and_tables(admin_client: Client, known: dict[str, Any]) -> None:
    admin_client.cookies["django_language"] = "en"
    response = admin_client.get(URL + PERIOD_QUERY)
    html = response.content.decode()
    assert response.status_code == 200
    assert "2026-03-01 to 2026-03-07 (7 days)" in html
    assert "<dt>Deflection rate</dt><dd>40.0%</dd>" in html and "<dt>Helpful rate</dt><dd>50.0%</dd>" in html
    assert (
        "<dt>Median confidence</dt><dd>0.700</dd>" in html
        and "<dt>Median time to first reply</dt><dd>2.0 h</dd>" in html
    )
    main = html.split('id="content-main"')[1].split("<!-- END SVGs -->")[0].split('<div id="footer"')[0]
    assert main.count("<svg viewBox") == 3 and 'role="img"' in main and '<title id="chart-per-day-title">' in html
    assert '<th scope="row">2026-03-04</th><td>3</td><td>1</td><td>1</td>' in html  # the data table
    assert "&lt;b&gt;배송비&lt;/b&gt;는요?" in html and "<b>배송비" not in html
    assert " style=" not in main and "<script" not in main  # CSP: nothing inline in our part
    assert "/static/support/insights.css" in html
    admin_client.cookies["django_language"] = "ko"
    korean = admin_client.get(URL + PERIOD_QUERY).content.decode()
    assert "자동 해결률" in korean and "일별 질문 수" in korean and "40.0%" in korean


def test_period_choices_and_bad_dates(admin_client: Client, known: dict[str, Any]) -> None:
    admin_client.cookies["django_language"] = "en"
    first = admin_client.get(URL).content.decode()  # nothing chosen: the default period, shown as chosen
    assert re.search(r'<option value="30" selected>', first) and "(30 days)" in first
    # Dates far from any run's today: a preset's own start date is shown (2026-12-01 was, on 6 December 2026)
    preset = admin_client.get(URL + "?days=7&start=2019-12-01&end=2019-12-03").content.decode()
    assert "(7 days)" in preset and 'value="2019-12-01"' not in preset  # the ignored dates are not shown
    assert "(7 days)" in admin_client.get(URL + "?days=7").content.decode()
    for odd in ("0", "-5", "abc", "365", "99999999999999999999"):  # had shown 30 days without a word
        page = admin_client.get(URL + "?days=" + odd).content.decode()
        assert "Choose one of the periods offered" in page and "(30 days)" in page
        assert '<option value="30" selected>' in page  # the select says what the figures are for
    assert "(90 days)" in admin_client.get(URL + "?days=90").content.decode()
    html = admin_client.get(URL + "?start=2026-03-07&end=2026-03-01").content.decode()
    assert "The period ends before it starts." in html and "(30 days)" in html  # falls back to the default
    last = admin_client.get(URL + "?start=9999-12-25&end=9999-12-31")  # the last date there is: was a 500
    assert last.status_code == 200 and "The period must end before 9999-12-31." in last.content.decode()
    assert "No questions were asked in this period." in admin_client.get(URL + "?days=7").content.decode()
    no_date = admin_client.get(URL + "?start=2026-02-30&end=2026-03-05").content.decode()  # February has no 30th
    assert "Enter a valid date." in no_date and "Give both dates" not in no_date and "(30 days)" in no_date
    assert (
        "2026-03-05 to 2026-03-05 (1 day)"
        in admin_client.get(URL + "?start=2026-03-05&end=2026-03-05").content.decode()
    )
    bad = admin_client.post(
        reverse("insights:recompute_gaps"), {"start": "2026-03-07", "end": "2026-03-01"}, follow=True
    )
    assert "The period ends before it starts." in bad.content.decode()
    assert not ContentGapReport.objects.exists()  # nothing computed for a period nobody asked for


def test_period_choices_are_in_the_language_of_the_request(admin_client: Client) -> None:
    admin_client.cookies["django_language"] = "en"
    assert '<option value="7" selected>last 7 days</option>' in admin_client.get(URL + "?days=7").content.decode()
    admin_client.cookies["django_language"] = "ko"
    assert '<option value="7" selected>최근 7일</option>' in admin_client.get(URL + "?days=7").content.decode()


def test_query_count_does_not_grow_with_questions(admin_client: Client, known: dict[str, Any]) -> None:
    with CaptureQueriesContext(connection) as few:
        admin_client.get(URL + PERIOD_QUERY)
    for i in range(30):
        q = question(at(3, 10), Question.Status.ANSWERED, 0.5, cites(known["articles"][3]))
        Feedback.objects.create(question=q, helpful=i % 2 == 0)
    with CaptureQueriesContext(connection) as many:
        html = admin_client.get(URL + PERIOD_QUERY).content.decode()
    assert len(many) == len(few) <= 20
    assert "포인트 안내" in html.split('id="not-cited"')[0]  # now cited


def test_benchmark_command_runs_and_leaves_nothing_behind(known: dict[str, Any], tmp_path: Any) -> None:
    import shutil
    from io import StringIO

    from django.conf import settings
    from django.core.management import call_command

    shutil.copy(settings.BASE_DIR / "samples" / "articles" / "refund-policy.md", tmp_path)  # one article: fast
    before = (Question.objects.count(), Ticket.objects.count(), Article.objects.count(), User.objects.count())
    out = StringIO()
    call_command(
        "benchmark_insights", questions=300, days=7, repeat=2, search_repeat=1, articles=tmp_path, explain=True,
        stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "generated 300 questions" in text and "whole page (view + template): median" in text
    assert "first request (cold):" in text and " p95 " in text and "load average" in text
    assert "EXPLAIN ANALYZE of the slowest query:" in text and "Execution Time" in text
    assert "first query embedding" in text and "/admin/search/ (test client): median" in text
    assert "hits for '환불은 어떻게 받나요?'" in text and ", 0 hits for" not in text
    assert (Question.objects.count(), Ticket.objects.count(), Article.objects.count(), User.objects.count()) == before


def test_each_data_table_disclosure_names_its_chart(admin_client: Client, known: dict[str, Any]) -> None:
    """Three "Data table" summaries had read the same to a screen reader."""
    admin_client.cookies["django_language"] = "en"
    page = admin_client.get(URL + PERIOD_QUERY).content.decode()
    for title in ("Questions per day", "Escalations by reason", "Top cited articles"):
        assert f'Data table<span class="visually-hidden">: {title}</span>' in page
