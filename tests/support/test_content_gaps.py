"""Content gaps: failed questions clustered by embedding similarity, nearest articles, the worker, the editor's start."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from support.insights.gaps import article_prefill_url, cluster_vectors, content_gap_report_compute
from support.insights.selectors import Period
from support.models import ContentGapReport, Feedback, Question, Ticket
from support.roles import SUPPORT_AGENTS

REFUND = ["환불은 어떻게 신청하나요?", "환불 신청 방법을 알려주세요", "반품하고 환불받고 싶어요"]
SHIPPING = ["배송이 너무 늦어요", "택배가 아직 안 왔어요", "주문한 상품이 아직 도착하지 않았어요"]
TRACKING = "배송 조회는 어디서 하나요?"  # another intent: E5 puts it at ~0.86 from the late-delivery ones
LOGIN = ["비밀번호를 잊어버렸어요", "로그인이 안 돼요"]


def failed(text: str, *, unhelpful: bool = False, answered_ok: bool = False) -> Question:
    q = Question.objects.create(text=text, language="ko", status=Question.Status.ANSWERED, answer="답")
    if unhelpful:
        Feedback.objects.create(question=q, helpful=False)
    elif not answered_ok:
        Ticket.objects.create(question=q, email="kim@example.com", reason=Ticket.Reason.CUSTOMER_REQUEST)
    return q


def today() -> Period:
    return Period.last_days(1)


def test_cluster_vectors_groups_by_average_similarity() -> None:
    a, b = np.eye(3)[0], np.eye(3)[1]
    near_a = (a * 0.99 + b * 0.14) / np.linalg.norm(a * 0.99 + b * 0.14)
    vectors = np.array([b, a, near_a, b])
    assert cluster_vectors(vectors, similarity=0.9) == [[0, 3], [1, 2]]  # equal sizes: first member first
    assert cluster_vectors(vectors, similarity=0.999) == [[0, 3], [1], [2]]
    assert cluster_vectors(np.zeros((0, 3)), 0.9) == [] and cluster_vectors(np.array([a]), 0.9) == [[0]]


@pytest.mark.django_db
def test_seeded_questions_cluster_by_topic_with_terms_and_nearest_article(sample_articles: dict[str, Any]) -> None:
    for text in REFUND[:2] + SHIPPING:
        failed(text)
    failed(REFUND[2], unhelpful=True)
    for text in [*LOGIN, TRACKING]:
        failed(text)
    failed("환불은 언제 되나요?", answered_ok=True)  # neither escalated nor unhelpful: not a gap
    report = ContentGapReport.objects.create(start=today().start, end=today().end)
    assert content_gap_report_compute(report_id=report.pk)
    assert not content_gap_report_compute(report_id=report.pk)  # claimed once
    report.refresh_from_db()
    assert report.state == "done" and report.question_count == 9 and report.embedding_model
    clusters = report.clusters
    assert [c["size"] for c in clusters] == [3, 3, 2, 1]
    assert clusters[-1]["examples"] == [TRACKING]
    by_text = {frozenset(c["examples"]): c for c in clusters}
    refund, shipping, login = by_text[frozenset(REFUND)], by_text[frozenset(SHIPPING)], by_text[frozenset(LOGIN)]
    assert "환불" in refund["terms"] and "배송" in shipping["terms"]
    assert refund["nearest_article"]["title"] == "환불 정책 안내"
    assert shipping["nearest_article"]["title"] == "배송 안내"
    assert 0 < refund["nearest_article"]["confidence"] <= 1  # the customer path's confidence, not a cosine
    assert login["nearest_article"]["title"] == "Resetting your password"  # "비밀번호" found it across languages
    assert login["language"] == "ko" and len(login["question_ids"]) == 2


@pytest.mark.django_db
def test_an_empty_period_gives_a_clear_message(admin_client: Client) -> None:
    report = ContentGapReport.objects.create(start=dt.date(2025, 1, 1), end=dt.date(2025, 1, 31))
    assert content_gap_report_compute(report_id=report.pk)
    report.refresh_from_db()
    assert report.state == "done" and report.clusters == [] and report.question_count == 0
    admin_client.cookies["django_language"] = "en"
    html = admin_client.get(reverse("insights:dashboard")).content.decode()
    assert "No escalated or unhelpful questions in this period: no content gaps to show." in html


@pytest.mark.django_db
def test_dashboard_lists_clusters_and_an_editor_starts_an_article_from_one(admin_client: Client) -> None:
    cluster = {
        "size": 2, "terms": ["환불"], "examples": ["환불은 <b>언제</b>?", "환불 방법"], "question_ids": [1, 2],
        "language": "ko", "nearest_article": None,
    }  # fmt: skip
    ContentGapReport.objects.create(
        start=timezone.localdate(), end=timezone.localdate(), state="done", question_count=2, clusters=[cluster]
    )
    admin_client.cookies["django_language"] = "en"
    html = admin_client.get(reverse("insights:dashboard")).content.decode()
    assert 'id="gap-clusters"' in html and "환불은 &lt;b&gt;언제&lt;/b&gt;?" in html and "Write an article" in html
    agent = User.objects.create_user("agent", "agent@example.com", "pw", is_staff=True)
    agent.groups.add(Group.objects.get(name=SUPPORT_AGENTS))  # may see insights, may not add articles
    as_agent = Client()
    as_agent.force_login(agent)
    as_agent.cookies["django_language"] = "en"
    theirs = as_agent.get(reverse("insights:dashboard")).content.decode()
    assert 'id="gap-clusters"' in theirs and "Write an article" not in theirs  # the link led to a 403
    url = article_prefill_url(cluster)
    assert url in html.replace("&amp;", "&")
    params = parse_qs(urlsplit(url).query)
    assert params["title"] == ["환불은 <b>언제</b>?"] and params["language"] == ["ko"]
    assert (
        params["aliases"] == ["환불은 <b>언제</b>?\n환불 방법"] and "body" not in params
    )  # nothing to publish by accident
    form = admin_client.get(url).content.decode()
    assert (
        "환불은 &lt;b&gt;언제&lt;/b&gt;?\n환불 방법</textarea>" in form
        and 'value="환불은 &lt;b&gt;언제&lt;/b&gt;?"' in form
    )


def test_frequent_terms_are_shown_as_customers_wrote_them_not_as_stems() -> None:
    from support.insights.gaps import _terms

    terms = _terms(["How long is the verification code valid?", "my verification code expired", "code not working"])
    assert terms[0] == "code" and "verification" in terms and "verif" not in terms  # the stem meant nothing to staff
    korean = _terms(["회사 주식은 어디서 사나요?", "주식 사고 싶어요"])
    assert korean[0] == "주식" and "살" not in korean and "사" not in korean  # 사나요 had shown as 살 ("to live")
