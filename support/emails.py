"""Ticket emails: one small function per kind, each a subject/text/html template set."""

import re
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from support.links import ticket_link
from support.models import EmailDelivery
from support.selectors import ticket_turns


def delivery_message_id(delivery: EmailDelivery) -> str:
    """``<ticket-email-{pk}@{domain}>``: the same for every attempt at one outbox row.

    The domain is the one of ``DEFAULT_FROM_EMAIL`` (else ``SITE_URL``'s host), as
    RFC 5322 §3.6.4 asks for a globally unique id. A re-send after a crash therefore
    carries the Message-ID of the first attempt, and mail systems can see it is the same.
    """
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2]
    domain = domain or urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<ticket-email-{delivery.pk}@{domain}>"


# A reply that opens with its own greeting gets no "Hello," before it ("Hello,\n\nHello Jane, …").
# English opens with it ("Hi Jane,", not "Hi-Fi speakers …"); Korean puts it anywhere in the
# first line ("민지 고객님, 안녕하세요.").
GREETING_EN = re.compile(r"^\s*(hello|hi|hey|dear|good (morning|afternoon|evening)|greetings)(?=[\s,!.]|$)", re.I)
GREETING_KO = re.compile(r"안녕하세요|안녕하십니까|반갑습니다")


def greets(body: str) -> bool:
    """True when ``body`` opens with a greeting (English: its first word; Korean: anywhere in
    its first line), so the reply email adds none of its own."""
    first_line = body.strip().split("\n", 1)[0] if body.strip() else ""
    return bool(GREETING_EN.match(body) or GREETING_KO.search(first_line))


def _send(*, template: str, to: str, context: dict[str, object], message_id: str) -> None:
    subject = render_to_string(f"emails/{template}-subject.txt", context).strip().replace("\n", " ")
    text = render_to_string(f"emails/{template}-body.txt", context)
    html = render_to_string(f"emails/{template}-body.html", context)
    message = EmailMultiAlternatives(
        subject, text, settings.DEFAULT_FROM_EMAIL, [to], headers={"Message-ID": message_id}
    )
    message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)


def send_delivery(delivery: EmailDelivery) -> None:
    """Render and send ``delivery`` (ack, notify or reply). Raises whatever the backend raises."""
    ticket = delivery.ticket
    context = {
        "ticket": ticket,
        "question": ticket.question,
        "turns": ticket_turns(ticket) if delivery.kind == EmailDelivery.Kind.NOTIFICATION else [],
        "delivery": delivery,
        "greets": greets(delivery.body),
        "site_url": settings.SITE_URL,
        "ticket_url": ticket_link(ticket.reference),  # signed: the customer's emails carry no other secret
        # The page's language when they escalated; else the question's (tickets from before 0024)
        "customer_language": ticket.language or ticket.question.language or settings.LANGUAGE_CODE,
        "admin_url": f"{settings.SITE_URL}/admin/support/ticket/{ticket.pk}/change/",
    }
    template = {"ack": "ticket-ack", "notify": "ticket-notify", "reply": "ticket-reply", "message": "ticket-message"}[
        delivery.kind
    ]
    _send(template=template, to=delivery.recipient, context=context, message_id=delivery_message_id(delivery))
