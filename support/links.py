"""Signed links to a customer's ticket page, sent in emails instead of the ticket's text.

The link carries ``django.core.signing`` data (HMAC-SHA256 with ``SECRET_KEY`` and a salt
of its own) naming the ticket reference, valid for ``TICKET_LINK_MAX_AGE_DAYS``. Whoever
holds the email can open the ticket; nobody can forge a link for another reference.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "support.ticket-link"
KEY_PARAMETER = "key"


def ticket_link_key(reference: str) -> str:
    """The signed key for ticket ``reference`` (URL-safe)."""
    return signing.dumps(reference, salt=SALT, compress=False)


def ticket_link(reference: str) -> str:
    """Absolute URL (``SITE_URL``) of the ticket page that opens with the signed key."""
    path = reverse("support:ticket", kwargs={"reference": reference})
    return f"{settings.SITE_URL}{path}?{urlencode({KEY_PARAMETER: ticket_link_key(reference)})}"


def ticket_link_valid(reference: str, key: str) -> bool:
    """True when ``key`` was signed for ``reference`` within ``TICKET_LINK_MAX_AGE_DAYS``."""
    if not key:
        return False
    try:
        signed = signing.loads(key, salt=SALT, max_age=settings.TICKET_LINK_MAX_AGE_DAYS * 86400)
    except signing.BadSignature:  # also SignatureExpired
        return False
    return signed == reference
