"""Customer forms: a question, an escalation to the support team, feedback on an answer, a message on a ticket.

The question is checked by ``support.services.question_clean`` and a ticket message by
``support.workflow.customer_message_clean`` themselves; the ticket limits mirror
``support.tickets.ticket_create`` so customers get translated messages here; the services still
enforce them for every other caller.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from support.services import QuestionInvalid, question_clean, question_invalid_message
from support.tickets import TicketInvalid, email_normalise
from support.workflow import customer_message_clean


def _counts(limit: int, count: int) -> dict[str, str]:
    return {"limit": f"{limit:,}", "count": f"{count:,}"}


class QuestionForm(forms.Form):
    question = forms.CharField(
        label=_("Your question"),
        widget=forms.Textarea(attrs={"rows": 4, "autofocus": True}),
        error_messages={"required": _("Please type a question.")},
    )

    def __init__(self, *args: Any, autofocus: bool = True, **kwargs: Any) -> None:
        """``autofocus=False`` for the follow-up box under an answer: a focused box below the
        answer scrolled the page past it (and started screen readers there)."""
        super().__init__(*args, **kwargs)
        if not autofocus:
            self.fields["question"].widget.attrs.pop("autofocus", None)
        limit = settings.QUESTION_MAX_CHARS  # read per request: tests and deployments change it
        self.fields["question"].help_text = _("Up to %(limit)s characters.") % {"limit": f"{limit:,}"}

    def clean_question(self) -> str:
        """The service's own check (:func:`support.services.question_clean`: NFC, zero-width
        characters at the ends, the length limit), its message in the page's language."""
        try:
            return question_clean(self.cleaned_data["question"])  # blank was refused as required
        except QuestionInvalid as exc:
            raise ValidationError(question_invalid_message(exc), code=exc.code) from exc


class NormalisedEmailField(forms.EmailField):
    """An email address normalised (:func:`support.tickets.email_normalise`) before it is validated."""

    def to_python(self, value: Any) -> str:
        return email_normalise(super().to_python(value) or "")


# The escalation email's messages, on the page and in the API (the widget shows the API's).
EMAIL_ERROR_MESSAGES = {
    "required": _("Please enter your email address so we can reply."),
    "blank": _("Please enter your email address so we can reply."),  # DRF's word for an empty string
    "invalid": _("Please enter a valid email address."),
}


class TicketForm(forms.Form):
    email = NormalisedEmailField(
        label=_("Your email address"),
        max_length=254,
        error_messages=EMAIL_ERROR_MESSAGES,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    details = forms.CharField(
        label=_("Anything else we should know? (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_details(self) -> str:
        details: str = self.cleaned_data["details"]
        if len(details) > settings.TICKET_DETAILS_MAX_CHARS:
            raise ValidationError(
                _("Details are limited to %(limit)s characters; yours have %(count)s."),
                code="max_length",
                params=_counts(settings.TICKET_DETAILS_MAX_CHARS, len(details)),
            )
        return details


class FeedbackForm(forms.Form):
    """ "Did this answer your question?": two submit buttons named ``helpful`` (yes/no) and a comment."""

    helpful = forms.TypedChoiceField(
        choices=[("yes", _("Yes")), ("no", _("No"))],
        coerce=lambda value: value == "yes",
        error_messages={"required": _("Please choose yes or no.")},
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_comment(self) -> str:
        comment: str = self.cleaned_data["comment"]
        if len(comment) > settings.FEEDBACK_COMMENT_MAX_CHARS:
            raise ValidationError(
                _("Comments are limited to %(limit)s characters; yours has %(count)s."),
                code="max_length",
                params=_counts(settings.FEEDBACK_COMMENT_MAX_CHARS, len(comment)),
            )
        return comment


class CustomerMessageForm(forms.Form):
    message = forms.CharField(
        label=_("Add a message to your ticket"),
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Please type a message.")},
    )

    def clean_message(self) -> str:
        """The service's own check (:func:`support.workflow.customer_message_clean`: normalised, not
        blank, within ``TICKET_MESSAGE_MAX_CHARS``), its message in the page's language."""
        try:
            return customer_message_clean(self.cleaned_data["message"])
        except TicketInvalid as exc:
            raise ValidationError(str(exc), code="invalid") from exc
