"""The whole product with real parts: admin save -> Celery worker indexes -> the API answers
with a citation -> an unrelated question escalates -> a ticket with both emails sent once ->
a staff reply emailed to the customer."""

import pytest
from django.urls import reverse

from knowledge.models import Article
from support.models import EmailDelivery, Ticket

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

REFUND_BODY = """결제 후 14일 이내에는 전액 환불이 가능합니다. 환불은 마이페이지의 주문 내역에서 신청할 수 있습니다.

환불 처리에는 영업일 기준 3일이 걸리며, 카드 결제는 카드사 사정에 따라 최대 7일이 걸릴 수 있습니다."""

PASSWORD_BODY = """To reset your password, open Settings and choose "Forgot password".
We email you a reset link that stays valid for 30 minutes.

If the email does not arrive, check your spam folder or contact support."""


def _admin_add_article(client, *, title: str, slug: str, body: str, language: str) -> Article:  # type: ignore[no-untyped-def]
    response = client.post(
        reverse("admin:knowledge_article_add"),
        {
            "title": title, "slug": slug, "body": body, "language": language, "status": "published",
            "published_at_0": "2026-03-01", "published_at_1": "10:00:00", "source_url": "",
            "chunks-TOTAL_FORMS": "0", "chunks-INITIAL_FORMS": "0",
            "chunks-MIN_NUM_FORMS": "0", "chunks-MAX_NUM_FORMS": "1000",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    return Article.objects.get(slug=slug)


def test_admin_to_answer_to_ticket_round_trip(admin_client, client, celery_worker) -> None:  # type: ignore[no-untyped-def]
    refund = _admin_add_article(
        admin_client, title="환불 정책 안내", slug="refund-policy", body=REFUND_BODY, language="ko"
    )
    password = _admin_add_article(
        admin_client, title="Resetting your password", slug="reset-password", body=PASSWORD_BODY, language="en"
    )

    def indexed() -> bool:
        states = set(Article.objects.values_list("index_state", flat=True))
        return states == {Article.IndexState.INDEXED}

    celery_worker.wait_for(indexed, timeout=120, what="the worker to index both articles")
    refund.refresh_from_db()
    assert refund.chunk_count >= 1 and refund.embedding_model and refund.indexed_at

    answer = client.post(
        "/api/v1/questions/", {"question": "환불 신청은 어디서 하나요?"}, content_type="application/json"
    )
    assert answer.status_code == 201
    data = answer.json()
    assert data["escalation_recommended"] is False, data
    assert data["sources"][0]["url"] == f"/articles/{refund.slug}/"
    assert "마이페이지" in data["answer"]

    answer_en = client.post(
        "/api/v1/questions/",
        {"question": "How long is the password reset link valid?"},
        content_type="application/json",
    ).json()
    assert answer_en["sources"][0]["url"] == f"/articles/{password.slug}/"
    assert "30 minutes" in answer_en["answer"]
    assert answer_en["answer_span"] and "30 minutes" in answer_en["answer_span"]
    start = answer_en["answer_span_start"]
    assert answer_en["answer"][start : start + len(answer_en["answer_span"])] == answer_en["answer_span"]

    unrelated = client.post(
        "/api/v1/questions/", {"question": "화성 탐사선의 발사 일정이 궁금합니다"}, content_type="application/json"
    ).json()
    assert unrelated["escalation_recommended"] is True, unrelated
    assert unrelated["answer"] == "" and unrelated["answer_span"] is None and unrelated["answer_span_start"] is None

    ticket_response = client.post(
        "/api/v1/tickets/",
        {
            "question_id": unrelated["id"],
            "token": unrelated["token"],
            "email": "customer@example.com",
            "details": "급합니다",
        },
        content_type="application/json",
    )
    assert ticket_response.status_code == 201
    ticket = Ticket.objects.get(reference=ticket_response.json()["reference"])
    assert ticket.reason in (Ticket.Reason.LOW_CONFIDENCE, Ticket.Reason.NO_SOURCES)

    def sent(count: int):  # type: ignore[no-untyped-def]
        return lambda: EmailDelivery.objects.filter(ticket=ticket, state=EmailDelivery.State.SENT).count() == count

    celery_worker.wait_for(sent(2), timeout=60, what="both ticket emails")
    emails = celery_worker.emails()
    assert len(emails) == 2
    assert any("customer@example.com" in e and ticket.reference in e and "/tickets/" in e for e in emails)
    assert any("support-team@example.com" in e for e in emails)

    # A task that runs twice sends once: run both email tasks again and wait until the
    # worker reports them done.
    from tasks.support import send_ticket_email

    def finished_email_tasks() -> int:
        return sum(
            1 for line in celery_worker.log.read_text().splitlines()
            if "send_ticket_email" in line and "succeeded" in line
        )  # fmt: skip

    before = finished_email_tasks()
    for delivery in EmailDelivery.objects.filter(ticket=ticket):
        send_ticket_email.delay(delivery.pk)
    celery_worker.wait_for(lambda: finished_email_tasks() == before + 2, timeout=60, what="the repeated email tasks")
    assert len(celery_worker.emails()) == 2

    # Support replies (admin calls this service): the customer gets the reply, the ticket is answered.
    from django.contrib.auth import get_user_model

    from support.workflow import ticket_reply

    ticket_reply(
        ticket=ticket, body="탐사선 일정은 공식 홈페이지를 확인해 주세요.", by=get_user_model().objects.first()
    )
    celery_worker.wait_for(sent(3), timeout=60, what="the reply email")
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.ANSWERED
    emails = celery_worker.emails()
    assert len(emails) == 3
    assert "공식 홈페이지" in emails[-1] or "공식 홈페이지" in "".join(emails)
