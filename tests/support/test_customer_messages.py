"""A customer adds a message to their own ticket: ownership, validation, status, notification."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from support.links import ticket_link_key
from support.models import EmailDelivery, Question, Ticket, TicketEvent
from support.outbox import email_delivery_send
from support.tickets import TicketInvalid, ticket_create
from support.workflow import ticket_customer_message_add, ticket_reply, ticket_transition
from tests.support.test_api_security import fresh_ip

pytestmark = pytest.mark.django_db
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> 주문을 취소하고 싶어요'


@pytest.fixture
def ticket() -> Ticket:
    question = Question.objects.create(text="환불은 언제?", status=Question.Status.NOT_CONFIDENT)
    return ticket_create(question=question, email="kim@example.com")


def owner(ticket: Ticket) -> Client:
    """A browser that opened the signed link from the acknowledgement email."""
    client = Client()
    url = reverse("support:ticket", kwargs={"reference": ticket.reference})
    assert client.get(url, {"key": ticket_link_key(ticket.reference)}).status_code == 302
    client.cookies["django_language"] = "en"
    return client


def page_url(ticket: Ticket) -> str:
    return reverse("support:ticket", kwargs={"reference": ticket.reference})


def message_url(ticket: Ticket) -> str:
    return reverse("support:ticket-message", kwargs={"reference": ticket.reference})


def test_customer_message_reopens_an_answered_ticket_and_notifies_support(
    ticket: Ticket, django_capture_on_commit_callbacks: object
) -> None:
    ticket_reply(ticket=ticket, body="14일 이내입니다.")
    client = owner(ticket)
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        response = client.post(message_url(ticket), {"message": f"  {HOSTILE}  "})
    assert response.status_code == 302 and response["Location"].endswith("#conversation")
    assert len(callbacks) == 1  # the notification's email task, after commit
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    event = ticket.events.get(kind=TicketEvent.Kind.CUSTOMER_MESSAGE)
    assert event.body == HOSTILE and event.actor is None
    delivery = ticket.deliveries.get(kind=EmailDelivery.Kind.CUSTOMER_MESSAGE)
    assert delivery.recipient == "support-team@example.com" and delivery.body == HOSTILE

    page = client.get(page_url(ticket)).content.decode()
    conversation = page.split('id="conversation"')[1]
    assert conversation.index("14일 이내입니다.") < conversation.index("주문을 취소하고 싶어요")
    assert "<script>" not in page and "&lt;script&gt;" in page and "<img" not in page
    assert 'role="status"' in page and "Your message was sent to our support team." in page  # said once
    assert "Your message was sent" not in client.get(page_url(ticket)).content.decode()

    assert email_delivery_send(delivery_id=delivery.pk) is True
    [email] = mail.outbox
    assert ticket.reference in email.subject and HOSTILE in email.body  # plain text as typed
    html = email.alternatives[0][0]
    assert "<script>" not in html and "&lt;script&gt;" in html and f"/admin/support/ticket/{ticket.pk}/" in html


def test_pending_customer_goes_back_to_open_and_open_stays_open(ticket: Ticket) -> None:
    client = owner(ticket)
    client.post(message_url(ticket), {"message": "추가 정보: 주문번호 NB123"})
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.OPEN
    ticket_transition(ticket=ticket, to=Ticket.Status.PENDING_CUSTOMER)
    client.post(message_url(ticket), {"message": "사진을 보냅니다"})
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.OPEN
    assert ticket.deliveries.filter(kind=EmailDelivery.Kind.CUSTOMER_MESSAGE).count() == 2


def test_other_browsers_get_404_for_page_and_message(ticket: Ticket) -> None:
    stranger = Client()
    assert stranger.get(reverse("support:ticket", kwargs={"reference": ticket.reference})).status_code == 404
    assert stranger.post(message_url(ticket), {"message": "hi"}).status_code == 404
    forged = stranger.get(reverse("support:ticket", kwargs={"reference": ticket.reference}), {"key": "forged"})
    assert forged.status_code == 404
    # an unknown reference looks the same as a ticket that is not yours
    assert (
        stranger.post(reverse("support:ticket-message", kwargs={"reference": "T-NOPE"}), {"message": "hi"}).status_code
        == 404
    )
    assert not ticket.events.exists()


def test_empty_and_huge_messages_are_refused_with_a_clear_message(ticket: Ticket, settings: object) -> None:
    settings.TICKET_MESSAGE_MAX_CHARS = 100  # type: ignore[attr-defined]
    client = owner(ticket)
    empty = client.post(message_url(ticket), {"message": "   "})
    assert empty.status_code == 400 and "Please type a message." in empty.content.decode()
    assert re.search(r'<textarea name="message"[^>]*autofocus', empty.content.decode())  # focus on the box
    invisible = client.post(message_url(ticket), {"message": " \u200b \ufeff\u200d "})  # zero-width only
    assert invisible.status_code == 400 and "Please type a message." in invisible.content.decode()
    with pytest.raises(TicketInvalid):  # the service refuses it too, for any other caller
        ticket_customer_message_add(ticket=ticket, body="\u200b\u2060")
    huge = client.post(message_url(ticket), {"message": "가" * 101})
    assert huge.status_code == 400
    assert "Messages are limited to 100 characters; yours has 101." in huge.content.decode()
    assert "가" * 101 in huge.content.decode()  # what they typed is still in the box
    assert not ticket.events.exists() and not ticket.deliveries.filter(kind="message").exists()


def test_the_customer_reads_the_status_as_it_concerns_them(ticket: Ticket) -> None:
    client = owner(ticket)
    assert "Waiting for our support team" in client.get(page_url(ticket)).content.decode()
    ticket_transition(ticket=ticket, to=Ticket.Status.PENDING_CUSTOMER)
    page = client.get(page_url(ticket)).content.decode()
    assert "Waiting for your reply" in page and "Pending customer" not in page  # the team's word, not theirs


def test_the_language_switcher_after_a_message_error_leads_back_to_the_ticket(ticket: Ticket) -> None:
    response = owner(ticket).post(message_url(ticket), {"message": "   "})
    assert response.status_code == 400
    assert f'name="next" value="{page_url(ticket)}"' in response.content.decode()  # not the POST-only address


def test_a_closed_ticket_takes_no_messages(ticket: Ticket) -> None:
    client = owner(ticket)
    ticket_transition(ticket=ticket, to=Ticket.Status.CLOSED)
    page = client.get(reverse("support:ticket", kwargs={"reference": ticket.reference})).content.decode()
    assert 'id="ticket-closed"' in page and 'name="message"' not in page
    response = client.post(message_url(ticket), {"message": "다시 질문 <b>주문번호 NB123</b>"})
    assert response.status_code == 409
    page = response.content.decode()  # closed while the customer wrote: the reason, and their text kept
    assert "This ticket is closed. Please ask a new question instead." in page
    assert 'id="message-not-sent"' in page and "다시 질문 &lt;b&gt;주문번호 NB123&lt;/b&gt;</textarea>" in page
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.CLOSED
    assert not ticket.events.filter(kind=TicketEvent.Kind.CUSTOMER_MESSAGE).exists()


def test_messages_are_rate_limited(ticket: Ticket, settings: object) -> None:
    settings.TICKET_RATE_LIMIT = "2/m"  # type: ignore[attr-defined]
    client = owner(ticket)
    address = fresh_ip()  # its own bucket, with time left in the window, on every run
    statuses = [
        client.post(message_url(ticket), {"message": f"m{i}"}, REMOTE_ADDR=address).status_code for i in range(3)
    ]
    assert statuses == [302, 302, 429]


def test_the_ticket_page_is_kept_by_no_cache(ticket: Ticket) -> None:
    client = Client()
    url = reverse("support:ticket", kwargs={"reference": ticket.reference})
    signed = client.get(url, {"key": ticket_link_key(ticket.reference)})  # the link in the email
    shown = client.get(url)  # the page: the customer's email, question and messages
    assert signed.status_code == 302 and shown.status_code == 200
    for response in (signed, shown):
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_the_reply_email_links_back_to_the_ticket(ticket: Ticket) -> None:
    ticket_reply(ticket=ticket, body="14일 이내입니다.")
    delivery = EmailDelivery.objects.get(ticket=ticket, kind=EmailDelivery.Kind.REPLY)
    email_delivery_send(delivery_id=delivery.pk)
    reply = next(m for m in mail.outbox if "14일 이내입니다." in m.body)
    link = re.search(r"http://\S+/tickets/\S+", reply.body)[0]  # type: ignore[index]
    assert link in reply.alternatives[0].content.replace("&amp;", "&")  # type: ignore[attr-defined]
    client = Client()  # the customer's mail app: a browser without the session
    opened = client.get(link.split("127.0.0.1:8000", 1)[1])
    assert opened.status_code == 302 and client.get(opened["Location"]).status_code == 200  # and may answer there


def test_a_reply_that_greets_gets_no_second_greeting_and_its_links_are_links(ticket: Ticket) -> None:
    """The reply email put "Hello," before a reply that began "Hello Jane," (staff pass), and
    showed a draft's source URLs as text in its HTML part."""
    ticket_reply(
        ticket=ticket,
        body="안녕하세요, 김 고객님.\n14일 이내입니다.\n[1] 환불 — http://127.0.0.1:8000/articles/refund/",
    )
    ticket_reply(ticket=ticket, body="14일 이내입니다 (두 번째 답장).")
    for delivery in EmailDelivery.objects.filter(ticket=ticket, kind=EmailDelivery.Kind.REPLY):
        email_delivery_send(delivery_id=delivery.pk)
    greeting, plain = (next(m for m in mail.outbox if text in m.body) for text in ("김 고객님", "두 번째 답장"))
    assert greeting.body.count("안녕하세요") == 1 and plain.body.startswith("안녕하세요.\n\n14일")  # ko: the ticket's
    html = greeting.alternatives[0].content  # type: ignore[attr-defined]
    assert '<a href="http://127.0.0.1:8000/articles/refund/"' in html


@pytest.mark.parametrize(
    ("body", "greeted"),
    [("Hello Jane, here it is.", True), ("Hi, it is 14 days.", True), ("민지 고객님, 안녕하세요.\n14일입니다.", True),
     ("Hi-Fi speakers ship in 3 days.", False), ("14일 이내입니다.\n안녕하세요 가 아닌 줄", False)],
)  # fmt: skip
def test_a_greeting_is_found_where_each_language_puts_it(body: str, greeted: bool) -> None:
    from support.emails import greets

    assert greets(body) is greeted


def test_a_korean_particle_after_a_url_stays_out_of_the_link() -> None:
    from support.templatetags.portal_text import urlize_korean

    html = urlize_korean("자세한 내용은 https://help.example/faq에서 보세요. <b>x</b> www.example.com/a를")
    assert '<a href="https://help.example/faq" rel="nofollow">https://help.example/faq</a>에서' in html
    assert '<a href="http://www.example.com/a" rel="nofollow">www.example.com/a</a>를' in html
    assert "&lt;b&gt;" in html and "<b>" not in html
    html = urlize_korean("자세한 내용은 (https://help.example/faq)을 참고하세요. https://ir.example.com/주식/faq에서")
    assert '(<a href="https://help.example/faq" rel="nofollow">https://help.example/faq</a>)을' in html
    assert (
        '<a href="https://ir.example.com/%EC%A3%BC%EC%8B%9D/faq" rel="nofollow">https://ir.example.com/주식/faq</a>에서'
        in html
    )
    html = urlize_korean("IR 자료: https://ir.example.com/주식 참고")  # Hangul after "/" is the address's path
    assert '<a href="https://ir.example.com/%EC%A3%BC%EC%8B%9D" rel="nofollow">https://ir.example.com/주식</a>' in html


def test_an_internationalised_address_is_read_back_as_typed() -> None:
    question = Question.objects.create(text="환불은 언제?", status=Question.Status.NOT_CONFIDENT)
    ticket = ticket_create(question=question, email="minsu@예시.한국")
    assert ticket.email == "minsu@xn--vv4b11d.xn--3e0b707e"  # as mail is delivered to it
    page = owner(ticket).get(page_url(ticket)).content.decode()
    assert "minsu@예시.한국" in page and "xn--" not in page
