"""Customer pages: asking, answers with sources, escalation, articles, sessions, CSRF, rate limits."""

import random
import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from knowledge.models import Article, KnowledgeBase
from knowledge.services import article_index
from support.models import EmailDelivery, Question, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

REFUND_BODY = """나비마켓에서 구매한 상품은 상품을 받은 날부터 14일 이내에 반품을 신청할 수 있습니다.
반품 신청은 마이페이지의 주문 내역에서 할 수 있습니다.

단순 변심으로 반품할 때는 왕복 배송비 6,000원을 고객님이 부담합니다.
상품 불량이나 오배송인 경우에는 배송비를 나비마켓이 부담합니다.

환불은 신용카드의 경우 3~5영업일, 카카오페이는 1~2영업일 안에 처리됩니다.
"""


@pytest.fixture(autouse=True)
def _generous_rate_limit(settings: object) -> None:
    """Every test posts from 127.0.0.1; the rate-limit test sets its own limit and address."""
    settings.ASK_RATE_LIMIT = "10000/m"  # type: ignore[attr-defined]


@pytest.fixture
def refund_article(live_kb: KnowledgeBase) -> Article:
    article = Article.objects.create(
        knowledge_base=live_kb,
        title="반품 및 환불 정책",
        slug="refund-policy",
        language="ko",
        status=Article.Status.PUBLISHED,
        published_at=datetime(2025, 3, 2, tzinfo=UTC),
        body=REFUND_BODY,
    )
    assert article_index(article_id=article.pk)
    return article


def ask(client: Client, text: str, **extra: str) -> Question:
    response = client.post(reverse("support:ask"), {"question": text}, **extra)
    assert response.status_code == 302, response.content.decode()[:2000]
    question = Question.objects.get(pk=int(re.search(r"/questions/(\d+)/", response["Location"])[1]))
    assert response["Location"] == reverse("support:question", kwargs={"question_id": question.pk})
    return question


def page(client: Client, question: Question, **extra: str) -> str:
    response = client.get(reverse("support:question", kwargs={"question_id": question.pk}), **extra)
    assert response.status_code == 200
    return response.content.decode()


# --- asking ---------------------------------------------------------------------------


def test_ask_page_renders_in_korean_by_default_and_in_english(client: Client) -> None:
    korean = client.get(reverse("support:ask")).content.decode()
    assert '<html lang="ko">' in korean
    assert "무엇을 도와드릴까요?" in korean
    assert 'name="csrfmiddlewaretoken"' in korean

    english = client.get(reverse("support:ask"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in english
    assert "How can we help?" in english


def test_language_switcher_changes_the_ui_language(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "How can we help?" in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "ko", "next": "/"})
    assert "무엇을 도와드릴까요?" in client.get("/").content.decode()


@pytest.mark.parametrize(
    ("language", "message"),
    [("en", "Please type a question."), ("ko", "질문을 입력해 주세요.")],
)
def test_empty_or_blank_question_is_a_form_error(client: Client, language: str, message: str) -> None:
    for text in ("", "   \n\t ", "\u200b\u200b"):
        response = client.post(reverse("support:ask"), {"question": text}, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not Question.objects.exists()


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", "Questions are limited to 1,000 characters; yours has 1,001."),
        ("ko", "질문은 1,000자까지 입력할 수 있습니다. 입력하신 질문은 1,001자입니다."),
    ],
)
def test_over_long_question_states_the_limit(client: Client, settings: object, language: str, message: str) -> None:
    settings.QUESTION_MAX_CHARS = 1000  # type: ignore[attr-defined]
    response = client.post(reverse("support:ask"), {"question": "가" * 1001}, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Question.objects.exists()


# --- answers --------------------------------------------------------------------------


def test_matching_question_is_answered_with_a_source_link(client: Client, refund_article: Article) -> None:
    question = ask(client, "반품은 상품을 받은 날부터 며칠 이내에 신청할 수 있나요?")
    assert question.status == Question.Status.ANSWERED, (question.confidence, question.features)
    assert question.answer_kind == "extractive"

    html = page(client, question, HTTP_ACCEPT_LANGUAGE="en")
    assert 'id="answer"' in html
    assert "14일 이내에 반품을 신청할 수 있습니다" in html
    assert "This is an excerpt from our help articles, not a written answer." in html
    article_url = reverse("support:article", kwargs={"slug": "refund-policy"})
    assert f'<a href="{article_url}" lang="ko">반품 및 환불 정책</a>' in html
    assert re.search(r"relevance \d\.\d\d", html)
    assert 'id="not-sure"' not in html
    assert "<title>Answer · Your question · Help centre</title>" in html
    assert '<form class="lang" action="/i18n/setlang/" method="post" aria-label="Language">' in html
    # "Yes" and "No" are read with the question they answer (a group named by it).
    assert '<p class="feedback-buttons" role="group" aria-labelledby="feedback-title"' in html
    assert '<h2 id="feedback-title">Did this answer your question?</h2>' in html
    # Even after an answer the customer can reach a person.
    assert reverse("support:escalate", kwargs={"question_id": question.pk}) in html

    korean = page(client, question)
    assert "도움말 문서에서 그대로 발췌한 내용" in korean
    assert client.get(article_url).status_code == 200


def test_an_answer_whose_article_was_withdrawn_says_so_and_no_longer_links_it(
    client: Client, refund_article: Article
) -> None:
    question = ask(client, "반품은 상품을 받은 날부터 며칠 이내에 신청할 수 있나요?")
    assert question.status == Question.Status.ANSWERED
    article_url = reverse("support:article", kwargs={"slug": "refund-policy"})
    assert f'<a href="{article_url}"' in page(client, question, HTTP_ACCEPT_LANGUAGE="en")
    Article.objects.filter(pk=refund_article.pk).update(status=Article.Status.DRAFT)  # unpublished since
    html = page(client, question, HTTP_ACCEPT_LANGUAGE="en")
    assert "14일 이내에 반품을 신청할 수 있습니다" in html  # what the customer was told stays
    assert "has since been withdrawn, so the answer may be out of date" in html and "no longer available" in html
    assert f'href="{article_url}"' not in html  # its page is a 404 now
    refund_article.delete()
    assert "no longer available" in page(client, question, HTTP_ACCEPT_LANGUAGE="en")


def test_unrelated_question_says_not_sure_and_offers_escalation(client: Client, refund_article: Article) -> None:
    question = ask(client, "Which rocket will launch the next Mars rover, and when?")
    assert question.escalation_recommended
    assert question.status in (Question.Status.NOT_CONFIDENT, Question.Status.NO_SOURCES)

    html = page(client, question, HTTP_ACCEPT_LANGUAGE="en")
    assert "We are not sure about this one" in html
    assert "<title>We are not sure about this one · Your question · Help centre</title>" in html  # said first
    assert 'id="answer"' not in html and 'id="sources"' not in html
    if question.answer:  # a guess may be stored for staff, but never shown as an answer
        assert question.answer not in html
    assert "Send this to our support team" in html
    assert f'action="{reverse("support:escalate", kwargs={"question_id": question.pk})}"' in html
    assert 'name="email"' in html and 'name="details"' in html

    assert "확실하지 않습니다" in page(client, question)


def test_the_answer_page_is_kept_by_no_cache(client: Client, refund_article: Article) -> None:
    question = ask(client, "환불은 며칠 걸리나요?")
    response = client.get(reverse("support:question", kwargs={"question_id": question.pk}))
    assert response.status_code == 200  # the customer's question and answer: no shared or back-button cache
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_a_question_without_words_lists_no_articles_that_might_help(client: Client, refund_article: Article) -> None:
    question = ask(client, "😭😭😭")
    assert question.escalation_recommended and question.status == "no_sources" and question.sources == []
    html = page(client, question, HTTP_ACCEPT_LANGUAGE="en")
    assert "We are not sure about this one" in html and 'id="might-help"' not in html  # nothing matched: none listed
    worded = ask(client, "화성 탐사선의 다음 발사 일정이 궁금합니다")
    assert worded.escalation_recommended and worded.sources
    html = page(client, worded)
    assert 'id="might-help"' in html  # a question with words still gets its suggestions
    # found by meaning as well as by words: they need share no word with the question
    assert "질문과 가장 가까운 문서이지만" in html and "질문의 일부 단어와 일치하는" not in html
    assert "They are the closest to your question that we found" in page(client, worded, HTTP_ACCEPT_LANGUAGE="en")
    api = client.post("/api/v1/questions/", {"question": "🙏🙏"}, content_type="application/json").json()
    assert api["status"] == "no_sources" and api["sources"] == []  # the API lists none either, as the widget


def test_the_api_answers_json_404_under_any_api_path_and_no_kind_for_a_withheld_answer(
    client: Client, refund_article: Article
) -> None:
    for path in ("/api", "/api/", "/api/v2/questions/", "/api/v1/nope/"):
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}, path
        korean = client.get(path)
        assert korean.json() == {"detail": "찾을 수 없습니다."}  # Korean by default, as the other details
        assert "찾을 수 없습니다".encode() in korean.content  # UTF-8 as DRF writes it, not \uXXXX escapes
    assert client.post("/api", {}, content_type="application/json").status_code == 404  # not a slash-redirect 500
    for path in ("/api/docs", "/api/schema"):  # pages people type: still redirected to their slash
        response = client.get(path)
        assert response.status_code == 301 and response["Location"] == path + "/", path
        posted = client.post(path, {}, content_type="application/json")  # was a 500 (APPEND_SLASH with a body)
        assert posted.status_code == 405 and posted["Allow"] == "GET, HEAD" and "detail" in posted.json(), path
    assert client.get("/api/schema?format=json")["Location"] == "/api/schema/?format=json"
    for path in ("/api/schema/", "/api/docs/"):
        posted = client.post(path, {}, content_type="application/json")
        assert posted.status_code == 405 and posted["Content-Type"] == "application/json", path  # not YAML or HTML
        assert "detail" in posted.json() and "GET" in posted["Allow"], path
    unsure = client.post(
        "/api/v1/questions/", {"question": "화성 탐사선 발사 일정은?"}, content_type="application/json"
    )
    body = unsure.json()
    assert body["escalation_recommended"] and body["answer"] == "" and body["answer_kind"] == ""


def test_question_text_is_escaped(client: Client, refund_article: Article) -> None:
    question = ask(client, "<script>alert('x')</script><img src=x onerror=alert(1)> 반품 기간은?")
    html = page(client, question)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<script>" not in html and "<img src=x" not in html


def test_question_page_query_count_is_small(
    client: Client, refund_article: Article, django_assert_max_num_queries: object
) -> None:
    question = ask(client, "반품 신청은 어디에서 하나요?")
    with django_assert_max_num_queries(5):  # type: ignore[operator]  # one of them: are its articles still live
        page(client, question)


def stored_question(client: Client, **fields: object) -> Question:
    """A question made without retrieval, remembered in ``client``'s session like one it asked."""
    question = Question.objects.create(text="질문", threshold=0.5, **fields)
    session = client.session
    session["support_question_ids"] = [question.pk]
    session.save()
    return question


def published(*slugs: str) -> list[int]:
    """Ids of live articles of the live knowledge base, one per slug (stored sources cite them)."""
    from knowledge.services import knowledge_base_get_live

    kb = knowledge_base_get_live()
    return [
        Article.objects.create(knowledge_base=kb, slug=slug, title=slug, body="x", status="published").pk
        for slug in slugs
    ]


def test_generated_answer_is_labelled_and_foreign_links_are_dropped(client: Client) -> None:
    refunds, evil, elsewhere = published("refunds", "evil", "elsewhere")
    sources = [
        {"article_id": refunds, "title": "Refunds", "url": "/articles/refunds/", "excerpt": "14 days", "score": 0.9},
        {"article_id": evil, "title": "Evil", "url": "javascript:alert(1)", "excerpt": "x", "score": 0.5},
        {"article_id": elsewhere, "title": "Elsewhere", "url": "//evil.example/", "excerpt": "y", "score": 0.4},
    ]
    question = stored_question(
        client, status=Question.Status.ANSWERED, answer="Within 14 days [1].", answer_kind="llm", sources=sources
    )
    html = page(client, question, HTTP_ACCEPT_LANGUAGE="en")
    assert "This answer was written automatically from our help articles." in html
    assert "Within 14 days [1]." in html
    assert '<a href="/articles/refunds/">Refunds</a>' in html
    assert "javascript:" not in html and "evil.example" not in html
    assert "Evil" in html and "Elsewhere" in html  # still listed, just not linked


def test_source_excerpts_show_as_plain_text_not_markdown(client: Client) -> None:
    excerpt = "Exchange within **14 days of delivery**.\n\n## Cost\n\n- Your [first exchange](/x) is free.\n| Plan | Price |\n|---|---|\n| Plus | ₩4,900 |"
    sources = [{"article_id": 1, "title": "Exchanges", "url": "/articles/exchanges/", "excerpt": excerpt, "score": 0.9}]
    question = stored_question(
        client, status=Question.Status.ANSWERED, answer="Exchange within 14 days of delivery.",
        answer_kind="extractive", sources=sources,
    )  # fmt: skip
    html = page(client, question, HTTP_ACCEPT_LANGUAGE="en")
    shown = html.split('<p class="excerpt">', 1)[1].split("</p>", 1)[0]
    assert (
        shown == "Exchange within 14 days of delivery.\nCost\nYour first exchange is free.\nPlan · Price\nPlus · ₩4,900"
    )


def test_the_answer_span_is_highlighted_and_escaped(client: Client) -> None:
    question = stored_question(
        client, status=Question.Status.ANSWERED, answer="Refunds take <b>14 days</b> after return.",
        answer_span="<b>14 days</b>", answer_kind="extractive",
    )  # fmt: skip
    html = page(client, question, HTTP_ACCEPT_LANGUAGE="en")
    assert 'Refunds take <mark id="answer-span">&lt;b&gt;14 days&lt;/b&gt;</mark> after return.' in html


def test_the_span_is_highlighted_where_the_answerer_found_it_not_where_it_first_appears(client: Client) -> None:
    answer = "Dawn delivery is free on orders of ₩15,000 or more. International shipping is ₩15,000 per order."
    question = stored_question(
        client, status=Question.Status.ANSWERED, answer=answer, answer_span="₩15,000",
        answer_span_start=answer.rindex("₩15,000"), answer_kind="extractive",
    )  # fmt: skip
    html = page(client, question, HTTP_ACCEPT_LANGUAGE="en")
    assert 'International shipping is <mark id="answer-span">₩15,000</mark> per order.' in html
    assert "orders of ₩15,000 or more" in html


def test_an_excerpt_in_another_language_is_marked_so_for_readers_and_screen_readers(client: Client) -> None:
    [refunds] = published("refund-policy")
    sources = [{"article_id": refunds, "title": "반품 및 환불 정책", "url": "/articles/refund-policy/", "excerpt": "14일 이내",
                "score": 1.1, "language": "ko"}]  # fmt: skip
    question = stored_question(
        client, status=Question.Status.ANSWERED, answer="상품을 받은 날부터 14일 이내에 반품을 신청할 수 있습니다.",
        answer_kind="extractive", language="en", sources=sources,
    )  # fmt: skip
    english = page(client, question, HTTP_ACCEPT_LANGUAGE="en")
    assert "This excerpt comes from an article in Korean." in english
    assert '<p class="quote" lang="ko">' in english and 'lang="ko">반품 및 환불 정책</a>' in english
    assert "relevance 1.00" in english  # a re-ranked score past 1 is shown as full relevance
    # On the Korean page the Korean excerpt needs no note, though the question was English.
    korean = page(client, question)
    assert 'id="other-language"' not in korean and '<p class="quote" lang="ko">' in korean
    question.answer_kind = "llm"  # written in the customer's language: no lang of the source on it
    question.save()
    assert '<p class="quote">' in page(client, question, HTTP_ACCEPT_LANGUAGE="en")


def test_model_error_shows_no_guess(client: Client) -> None:
    question = stored_question(
        client, status=Question.Status.MODEL_ERROR, escalation_recommended=True, answer="", error="timeout: boom"
    )
    html = page(client, question, HTTP_ACCEPT_LANGUAGE="en")
    assert "We could not prepare an answer right now." in html
    assert "boom" not in html  # errors are for logs, never for customers
    assert 'id="escalate"' in html


# --- sessions -------------------------------------------------------------------------


def test_other_sessions_cannot_see_a_question_or_its_ticket(client: Client, refund_article: Article) -> None:
    question = ask(client, "반품 배송비는 얼마인가요?")
    response = client.post(
        reverse("support:escalate", kwargs={"question_id": question.pk}), {"email": "kim@example.com"}
    )
    ticket_url = response["Location"]
    assert client.get(ticket_url).status_code == 200

    stranger = Client()
    assert stranger.get(reverse("support:question", kwargs={"question_id": question.pk})).status_code == 404
    assert stranger.get(ticket_url).status_code == 404
    response = stranger.post(
        reverse("support:escalate", kwargs={"question_id": question.pk}), {"email": "evil@example.com"}
    )
    assert response.status_code == 404
    assert Ticket.objects.count() == 1


# --- escalation -----------------------------------------------------------------------


def test_escalation_with_invalid_email_is_a_form_error(client: Client, refund_article: Article) -> None:
    question = ask(client, "화성 여행 비자는 어떻게 받나요?")
    url = reverse("support:escalate", kwargs={"question_id": question.pk})
    for email, message in (("not-an-email", "Please enter a valid email address."), ("", "Please enter your email")):
        response = client.post(url, {"email": email, "details": "급해요"}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        html = response.content.decode()
        assert message in html
        assert "급해요" in html  # what the customer typed is kept
        # focus (and the view) go to the wrong field: the page had opened at its top, the message far below
        assert re.search(r'<input type="email" name="email"[^>]*autofocus[^>]*aria-invalid="true"', html)
        assert html.count("autofocus") == 1
    long = client.post(url, {"email": "a@example.com", "details": "x" * 6000}, HTTP_ACCEPT_LANGUAGE="en")
    assert re.search(r'<textarea name="details"[^>]*autofocus', long.content.decode())  # the details were wrong
    assert not Ticket.objects.exists()


def test_the_question_is_marked_with_its_language(client: Client, refund_article: Article) -> None:
    """A screen reader reads an English question on a Korean page in English (and the reverse)."""
    question = ask(client, "Can I pay with bitcoin?")
    html = client.get(reverse("support:question", kwargs={"question_id": question.pk}), HTTP_ACCEPT_LANGUAGE="ko")
    assert '<p class="quote" lang="en">Can I pay with bitcoin?</p>' in html.content.decode()


def test_the_article_page_marks_its_own_words_in_the_page_language(client: Client, refund_article: Article) -> None:
    """The article body is in the article's language; the date line and the source link
    around it are the page's, so a screen reader reads them with the page's rules."""
    refund_article.source_url = "https://example.com/refunds"
    refund_article.save(update_fields=["source_url"])
    html = client.get(f"/articles/{refund_article.slug}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<article class="article" lang="{refund_article.language}">' in html
    assert '<p class="muted" lang="en">Published ' in html
    assert '<p class="muted" lang="en"><a href="https://example.com/refunds"' in html


def test_escalation_creates_a_ticket_owing_two_emails(
    client: Client, refund_article: Article, django_capture_on_commit_callbacks: object
) -> None:
    question = ask(client, "화성 여행 비자는 어떻게 받나요?")
    url = reverse("support:escalate", kwargs={"question_id": question.pk})
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        response = client.post(url, {"email": "kim@example.com", "details": "<b>details</b>"})
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("support:ticket", kwargs={"reference": ticket.reference})
    assert ticket.question == question and ticket.email == "kim@example.com"
    assert ticket.reason == Ticket.Reason.LOW_CONFIDENCE or ticket.reason == Ticket.Reason.NO_SOURCES
    deliveries = EmailDelivery.objects.filter(ticket=ticket)
    assert sorted(deliveries.values_list("kind", flat=True)) == ["ack", "notify"]
    assert len(callbacks) == 2  # one enqueue per email, after commit

    html = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ticket.reference in html
    assert (
        "We are sending a confirmation to <strong>kim@example.com</strong>" in html
    )  # not "have emailed": it is still owed
    assert '<p class="quote" lang="en">&lt;b&gt;details&lt;/b&gt;</p>' in html  # read in its own language
    later = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()  # back from the email
    assert f"Your ticket {ticket.reference}" in later and "spam folder" not in later  # "sent" is said once
    assert "Our support team replies to <strong>kim@example.com</strong>. You can add a message below." in later
    # The question page now points at the ticket instead of inviting a duplicate blindly.
    assert ticket.reference in page(client, question)

    # Sent again with more to say: it joins the ticket as a message, and the page says so.
    again = client.post(
        url, {"email": "kim2@example.com", "details": "주문번호는 NB-42입니다"}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert again.redirect_chain[-1][0] == response["Location"] and Ticket.objects.count() == 1
    assert "what you wrote was added to its ticket" in again.content.decode()
    event = ticket.events.get(kind=TicketEvent.Kind.CUSTOMER_MESSAGE)
    assert event.body == "주문번호는 NB-42입니다\n(답장 받을 주소: kim2@example.com)"  # the ticket's language (ko)
    same = client.post(url, {"email": "kim@example.com", "details": "<b>details</b>"}, follow=True)
    assert ticket.events.filter(kind=TicketEvent.Kind.CUSTOMER_MESSAGE).count() == 1  # nothing new: nothing added
    assert same.status_code == 200


def test_answered_question_can_be_escalated_as_a_customer_request(client: Client, refund_article: Article) -> None:
    question = ask(client, "반품은 상품을 받은 날부터 며칠 이내에 신청할 수 있나요?")
    assert question.status == Question.Status.ANSWERED
    client.post(reverse("support:escalate", kwargs={"question_id": question.pk}), {"email": "lee@example.com"})
    assert Ticket.objects.get().reason == Ticket.Reason.CUSTOMER_REQUEST


# --- articles -------------------------------------------------------------------------


def _article(kb: KnowledgeBase, slug: str, body: str, status: str = Article.Status.PUBLISHED) -> Article:
    return Article.objects.create(knowledge_base=kb, title=f"<i>{slug}</i>", slug=slug, body=body, status=status)


def test_article_page_renders_markdown_and_strips_scripts(client: Client, live_kb: KnowledgeBase) -> None:
    body = (
        "## 환불 기간\n\n**14일** 이내\n\n<script>alert('body')</script>\n\n"
        '<img src="x.png" onerror="alert(2)">\n\n[click](javascript:alert(3)) '
        '<a href="https://example.com" onclick="steal()">ok</a>'
    )
    _article(live_kb, "unsafe", body)
    response = client.get(reverse("support:article", kwargs={"slug": "unsafe"}))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h2>환불 기간</h2>" in html and "<strong>14일</strong>" in html
    body_html = html.split("<article", 1)[1]  # the page's own script (keep-typed.js) is in its head
    assert "<script" not in body_html and "alert(" not in html
    assert "onerror" not in html and "onclick" not in html and "javascript:" not in html
    assert '<img src="x.png">' in html
    assert "&lt;i&gt;unsafe&lt;/i&gt;" in html  # the title is escaped, not rendered


def test_only_published_articles_of_the_live_knowledge_base_are_public(client: Client, live_kb: KnowledgeBase) -> None:
    _article(live_kb, "draft", "초안", status=Article.Status.DRAFT)
    other = KnowledgeBase.objects.create(slug="evaluation-x", name="Evaluation")
    _article(other, "elsewhere", "평가용")
    assert client.get(reverse("support:article", kwargs={"slug": "draft"})).status_code == 404
    assert client.get(reverse("support:article", kwargs={"slug": "elsewhere"})).status_code == 404
    assert client.get(reverse("support:article", kwargs={"slug": "missing"})).status_code == 404
    _article(live_kb, "비밀번호-재설정", "한글 슬러그")  # the admin prepopulates Korean slugs from titles
    assert client.get(reverse("support:article", kwargs={"slug": "비밀번호-재설정"})).status_code == 200


# --- CSRF and rate limits ---------------------------------------------------------------


def test_csrf_is_enforced_on_every_form(refund_article: Article) -> None:
    csrf_client = Client(enforce_csrf_checks=True)
    assert csrf_client.post(reverse("support:ask"), {"question": "반품 기간은?"}).status_code == 403
    assert not Question.objects.exists()

    csrf_client.get(reverse("support:ask"))
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post(reverse("support:ask"), {"question": "반품 기간은?", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    question = Question.objects.get()

    url = reverse("support:escalate", kwargs={"question_id": question.pk})
    assert csrf_client.post(url, {"email": "kim@example.com"}).status_code == 403
    assert not Ticket.objects.exists()
    assert csrf_client.post(url, {"email": "kim@example.com", "csrfmiddlewaretoken": token}).status_code == 302


def _address_with_time_left(period: int, more_than: int) -> str:
    """A random client address whose django-ratelimit window of ``period`` seconds has more than
    ``more_than`` seconds left: each address's window ends at its own moment (``crc32(ip) % period``),
    so a random one was within a minute of its hour's end about 1 run in 60."""
    import time

    from django_ratelimit.core import _get_window

    while True:
        address = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        if _get_window(address, period) - time.time() > more_than:
            return address


def test_too_many_questions_get_a_friendly_429(client: Client, settings: object) -> None:
    settings.ASK_RATE_LIMIT = "2/h"  # type: ignore[attr-defined]
    address = _address_with_time_left(3600, more_than=120)  # a fresh counter, minutes from its window's end
    codes = [
        client.post(reverse("support:ask"), {"question": ""}, REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en")
        for _ in range(3)
    ]
    assert [r.status_code for r in codes] == [200, 200, 429]
    page = codes[2].content.decode()
    assert "Please slow down" in page
    # The seconds left in the hour's window (the page had said 60 whatever the window), and
    # the page counts the same minutes.
    seconds = int(codes[2]["Retry-After"])
    assert 60 < seconds <= 3600, seconds
    assert f"Please try again in {-(-seconds // 60)} minutes." in page
    korean = client.post(reverse("support:ask"), {"question": ""}, REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="ko")
    assert korean.status_code == 429 and re.search(r"\d+분 뒤에 다시 시도해 주세요\.", korean.content.decode())
    assert client.get(reverse("support:ask"), REMOTE_ADDR=address).status_code == 200  # reading is never limited


def test_the_429_page_in_korean_waits_the_window_out(client: Client, settings: object) -> None:
    settings.ASK_RATE_LIMIT = "1/m"  # type: ignore[attr-defined]
    address = _address_with_time_left(60, more_than=5)
    codes = [client.post(reverse("support:ask"), {"question": ""}, REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="ko")
             for _ in range(2)]  # fmt: skip
    assert [r.status_code for r in codes] == [200, 429]
    assert 1 <= int(codes[1]["Retry-After"]) <= 60
    assert "1분쯤 기다린 뒤 다시 시도해 주세요." in codes[1].content.decode()


def test_a_page_that_is_not_there_or_not_yours_says_so_in_the_visitors_language(client: Client, db: None) -> None:
    """Django's bare "Not Found" page had no way back and no language."""
    missing = client.get("/articles/no-such-article/", HTTP_ACCEPT_LANGUAGE="en")
    assert missing.status_code == 404
    page = missing.content.decode()
    assert '<html lang="en">' in page and "Page not found" in page and 'href="/"' in page
    korean = client.get("/questions/999999/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "페이지를 찾을 수 없습니다" in korean


def test_a_form_without_its_csrf_token_gets_a_page_in_the_visitors_language(db: None) -> None:
    """A CSRF failure was Django's bare English "Forbidden" page (verification pass)."""
    strict = Client(enforce_csrf_checks=True)
    refused = strict.post("/", {"question": "환불은 언제 되나요?"}, HTTP_ACCEPT_LANGUAGE="ko")
    assert refused.status_code == 403
    page = refused.content.decode()
    assert '<html lang="ko">' in page and "양식을 다시 보내 주세요" in page and 'href="/"' in page
