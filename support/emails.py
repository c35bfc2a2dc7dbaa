"""Ticket emails: one small function per kind, each a subject/text/html template set."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from support.links import ticket_link
from support.models import EmailDelivery


def _send(*, template: str, to: str, context: dict[str, object]) -> None:
    subject = render_to_string(f"emails/{template}-subject.txt", context).strip().replace("\n", " ")
    text = render_to_string(f"emails/{template}-body.txt", context)
    html = render_to_string(f"emails/{template}-body.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)


def send_delivery(delivery: EmailDelivery) -> None:
    """Render and send ``delivery`` (ack, notify or reply). Raises whatever the backend raises."""
    ticket = delivery.ticket
    context = {
        "ticket": ticket,
        "question": ticket.question,
        "delivery": delivery,
        "site_url": settings.SITE_URL,
        "ticket_url": ticket_link(ticket.reference),  # signed: the customer's emails carry no other secret
        "admin_url": f"{settings.SITE_URL}/admin/support/ticket/{ticket.pk}/change/",
    }
    template = {"ack": "ticket-ack", "notify": "ticket-notify", "reply": "ticket-reply"}[delivery.kind]
    _send(template=template, to=delivery.recipient, context=context)
