"""Customer feedback on answers: API ownership and validation, the page's yes/no, admin."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from support.models import Feedback, Question
from support.services import token_hash
from tests.support.test_api_security import fresh_ip

pytestmark = pytest.mark.django_db


TOKEN = "secret-token-of-this-question"


def answered_question(token: str = TOKEN, **fields: Any) -> Question:
    values = {
        "text": "환불은 며칠 걸리나요?", "status": Question.Status.ANSWERED, "answer": "3영업일이 걸립니다.",
        "answer_kind": "extractive", "confidence": 0.9, "token_hash": token_hash(token),
    } | fields  # fmt: skip
    return Question.objects.create(**values)


def rate(client: Client, question_id: int, body: dict[str, Any], **extra: Any) -> Any:
    return client.post(
        f"/api/v1/questions/{question_id}/feedback/", body, content_type="application/json", REMOTE_ADDR=fresh_ip(),
        **extra,
    )  # fmt: skip


# --- API ----------------------------------------------------------------------------------


def test_feedback_with_the_token_is_201_and_a_second_one_replaces_it(client: Client) -> None:
    question = answered_question()
    first = rate(client, question.pk, {"token": "secret-token-of-this-question", "helpful": True})
    assert first.status_code == 201, first.content
    assert first.json()["question_id"] == question.pk and first.json()["helpful"] is True
    assert first.json()["comment"] == ""
    second = rate(
        client, question.pk, {"token": "secret-token-of-this-question", "helpful": False, "comment": " 틀렸어요 "}
    )
    assert second.status_code == 200, second.content
    assert second.json()["helpful"] is False and second.json()["comment"] == "틀렸어요"
    feedback = Feedback.objects.get()
    assert feedback.question == question and not feedback.helpful and feedback.channel == "api"


@pytest.mark.parametrize("token", [None, "", "wrong-token", "NULL", "x" * 300, "secret\x00token"])
def test_feedback_without_the_token_is_the_same_404_as_an_unknown_id(client: Client, token: str | None) -> None:
    question = answered_question()
    body: dict[str, Any] = {"helpful": False}
    if token is not None:
        body["token"] = None if token == "NULL" else token
    response = rate(client, question.pk, body)
    unknown = rate(client, question.pk + 1000, {"token": "secret-token-of-this-question", "helpful": False})
    assert response.status_code == unknown.status_code == 404
    assert response.json() == unknown.json()
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "helpful"),
        ({"helpful": "maybe"}, "helpful"),
        ({"helpful": None}, "helpful"),
        ({"helpful": True, "comment": "x" * 2001}, "comment"),
        ({"helpful": True, "comment": 12}, "comment"),
    ],
)
def test_bad_fields_are_400_naming_the_field(client: Client, body: dict[str, Any], field: str) -> None:
    question = answered_question()
    response = rate(client, question.pk, {"token": "secret-token-of-this-question", **body})
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Feedback.objects.exists()


def test_a_withheld_answer_cannot_be_rated(client: Client) -> None:
    question = answered_question(status=Question.Status.NOT_CONFIDENT, escalation_recommended=True)
    response = rate(client, question.pk, {"token": "secret-token-of-this-question", "helpful": True})
    assert response.status_code == 409 and "no answer" in response.json()["detail"]
    assert not Feedback.objects.exists()


def test_feedback_is_throttled(client: Client, settings: Any) -> None:
    settings.FEEDBACK_RATE_LIMIT = "2/m"
    question = answered_question()
    ip = fresh_ip()
    body = {"token": "secret-token-of-this-question", "helpful": True}
    url = f"/api/v1/questions/{question.pk}/feedback/"
    codes = [client.post(url, body, content_type="application/json", REMOTE_ADDR=ip).status_code for _ in range(3)]
    assert codes == [201, 200, 429]


# --- the answer page ------------------------------------------------------------------------


def own(client: Client, question: Question) -> None:
    session = client.session
    session["support_question_ids"] = [question.pk]
    session.save()


def test_answer_page_asks_and_no_leads_to_the_escalation_form(client: Client) -> None:
    question = answered_question()
    own(client, question)
    url = reverse("support:question", kwargs={"question_id": question.pk})
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Did this answer your question?" in html and 'name="helpful" value="no"' in html
    korean = client.get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "답변이 도움이 되었나요?" in korean

    response = client.post(
        reverse("support:feedback", kwargs={"question_id": question.pk}),
        {"helpful": "no", "comment": "<b>배송비</b>가 궁금했어요"},
    )
    # no fragment: the page focuses the email box, which browsers skip on a URL with a fragment
    assert response.status_code == 302 and response["Location"] == url
    feedback = Feedback.objects.get(question=question)
    assert not feedback.helpful and feedback.comment == "<b>배송비</b>가 궁금했어요" and feedback.channel == "web"
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Did this answer your question?" not in html  # asked once
    assert 'href="#escalate"' in html and "Let our support team answer you" in html
    assert re.search(r'<form method="post" action="/questions/\d+/escalate/"', html)
    details = re.search(r'<textarea name="details"[^>]*>([^<]*)</textarea>', html)
    assert details and "&lt;b&gt;배송비&lt;/b&gt;가 궁금했어요" in details[1]  # the comment, escaped, not typed twice
    assert re.search(r'<input type="email" name="email"[^>]*autofocus', html)  # focus goes where "No" led


def test_no_after_escalating_leads_to_the_ticket_section(client: Client) -> None:
    """With the question escalated already, nothing takes focus: "No" opens the page at #escalate,
    which lists the ticket."""
    from support.models import Ticket
    from support.views import SESSION_TICKETS

    question = answered_question()
    ticket = Ticket.objects.create(question=question, email="kim@example.com", reason=Ticket.Reason.CUSTOMER_REQUEST)
    own(client, question)
    session = client.session
    session[SESSION_TICKETS] = [ticket.reference]
    session.save()
    response = client.post(reverse("support:feedback", kwargs={"question_id": question.pk}), {"helpful": "no"})
    url = reverse("support:question", kwargs={"question_id": question.pk})
    assert response["Location"] == url + "#escalate"
    assert "autofocus" not in client.get(url).content.decode()


def test_yes_thanks_the_customer(client: Client) -> None:
    question = answered_question()
    own(client, question)
    response = client.post(reverse("support:feedback", kwargs={"question_id": question.pk}), {"helpful": "yes"})
    assert response["Location"].endswith("#feedback")
    assert Feedback.objects.get(question=question).helpful
    url = reverse("support:question", kwargs={"question_id": question.pk})
    assert "Thank you for your feedback." in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_page_feedback_needs_the_session_and_a_choice(client: Client) -> None:
    question = answered_question()
    url = reverse("support:feedback", kwargs={"question_id": question.pk})
    assert client.post(url, {"helpful": "yes"}).status_code == 404  # not this visitor's question
    own(client, question)
    response = client.post(url, {"comment": "hm"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "Please choose yes or no." in response.content.decode()
    assert not Feedback.objects.exists()


def test_withheld_answer_page_does_not_ask(client: Client) -> None:
    question = answered_question(status=Question.Status.NO_SOURCES, escalation_recommended=True, answer="")
    own(client, question)
    html = client.get(reverse("support:question", kwargs={"question_id": question.pk})).content.decode()
    assert 'name="helpful"' not in html


# --- admin ------------------------------------------------------------------------------------


def test_feedback_shows_on_the_question_in_admin_escaped(admin_client: Client) -> None:
    question = answered_question()
    Feedback.objects.create(question=question, helpful=False, comment="<script>x</script> 틀림")
    admin_client.cookies["django_language"] = "en"
    changelist = admin_client.get(reverse("admin:support_question_changelist") + "?feedback__helpful__exact=0")
    assert changelist.status_code == 200 and "not helpful" in changelist.content.decode()
    html = admin_client.get(reverse("admin:support_question_change", args=[question.pk])).content.decode()
    assert "not helpful" in html and "&lt;script&gt;x&lt;/script&gt; 틀림" in html
