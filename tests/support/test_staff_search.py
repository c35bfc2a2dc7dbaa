"""Internal search (/admin/search/): articles, support answers and answered tickets, for staff."""

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from support.models import Question, Ticket
from support.search import snippet, staff_search

pytestmark = pytest.mark.django_db


def _answered_ticket(text: str, reply: str) -> Ticket:
    question = Question.objects.create(text=text, language="ko", status="not_confident")
    return Ticket.objects.create(question=question, email="kim@example.com", reason="low_confidence", reply=reply)


def test_snippet_marks_every_term_and_shows_a_window() -> None:
    parts = snippet("서론. " * 100 + "환불은 결제 후 7일 이내에 환불됩니다.", ["환불"], width=60)
    assert [text for text, match in parts if match] == ["환불", "환불"]
    assert parts[0] == ("…", False)  # the window starts after the beginning
    assert snippet("no match here", ["환불"]) == [("no match here", False)]


def test_one_search_finds_the_article_and_the_answered_ticket(sample_articles: dict[str, Any]) -> None:
    replied = _answered_ticket("환불 계좌를 바꾸고 싶어요", "환불 계좌는 마이페이지에서 바꿀 수 있습니다.")
    _answered_ticket("배송 주소 변경", "주소는 출고 전까지 바꿀 수 있습니다.")
    Ticket.objects.create(
        question=Question.objects.create(text="환불 언제 돼요", language="ko"), email="a@example.com",
        reason="low_confidence",
    )  # fmt: skip  # no reply yet: not a past answer
    hits = staff_search("환불은 어떻게 받나요?")
    articles = [h for h in hits if h.kind == "article"]
    tickets = [h for h in hits if h.kind == "ticket"]
    assert articles[0].url == sample_articles["refund"].get_absolute_url()
    assert [h.title.split(" · ")[0] for h in tickets] == [replied.reference]
    assert ("환불", True) in tickets[0].snippet
    assert all(h.kind == "ticket" for h in staff_search("환불", kinds=("ticket",)))


def test_only_articles_sharing_a_word_are_listed_else_the_nearest_few_marked(sample_articles: dict[str, Any]) -> None:
    """The dense side always has neighbours: every article had been listed for a search no
    article matches (staff pass: "gift card"), ahead of the ticket that did."""
    refund = staff_search("환불", kinds=("article",))
    assert refund and all(not h.by_meaning_only for h in refund)
    assert all(("환불", True) in h.snippet for h in refund)  # each shares the word
    assert len(refund) < len(sample_articles)
    nothing_shared = staff_search("비트코인 채굴", kinds=("article",))
    assert 0 < len(nothing_shared) <= 3 and all(h.by_meaning_only for h in nothing_shared)


def test_the_page_is_for_staff_and_escapes_what_it_shows(client: Client, sample_articles: dict[str, Any]) -> None:
    ticket = _answered_ticket("<script>alert(1)</script> 환불", "<b>환불</b> 안내")
    assert client.get("/admin/search/?q=환불").status_code == 302  # to the admin login
    staff = get_user_model().objects.create_user("agent", password="pw-123456", is_staff=True)
    client.force_login(staff)
    # Without permission to view tickets (a content editor): articles only, as the ticket admin is a 403.
    html = client.get("/admin/search/", {"q": "환불", "kind": ["article", "ticket"]}).content.decode()
    assert "/articles/" in html and ticket.reference not in html
    staff.user_permissions.add(Permission.objects.get(codename="view_ticket", content_type__app_label="support"))
    client.force_login(get_user_model().objects.get(pk=staff.pk))  # permissions are cached on the instance
    html = client.get("/admin/search/", {"q": "환불", "kind": ["article", "ticket"]}).content.decode()
    assert ticket.reference in html
    assert 'id="search-results"' in html and "<mark>환불</mark>" in html
    assert "<script>alert(1)</script>" not in html and "&lt;b&gt;" in html
    empty = client.get("/admin/search/", {"q": "화성 탐사선 발사", "kind": ["ticket"]}).content.decode()
    assert 'id="no-results"' in empty
    dates = {"q": "환불", "start": "2026-02-01", "end": "2026-01-01"}
    assert (
        "The start date is after the end date."
        in client.get("/admin/search/", dates, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )
    assert "시작 날짜가 끝 날짜보다 늦습니다." in client.get("/admin/search/", dates).content.decode()  # Korean first


def test_snippets_and_ticket_sources_are_plain_text_not_markdown(make_article: Any) -> None:
    from support.admin import sources_table

    make_article(
        "환불 정책",
        "## 환불 기간\n\n**14일 이내**에 환불을 신청할 수 있습니다.\n\n| 구분 | 기간 |\n|---|---|\n| 환불 | 14일 |",
    )
    [hit] = staff_search("환불 기간", kinds=("article",))
    text = "".join(part for part, _ in hit.snippet)
    assert "**" not in text and "##" not in text and "|---|" not in text and "14일 이내" in text
    table = sources_table([{"title": "환불 정책", "excerpt": "**14일 이내**에 환불", "score": 0.9}])
    assert "**" not in table and "14일 이내에 환불" in table
