"""Admin for support staff: review escalated tickets and reply, inspect questions, tune the policy.

Replying goes through ``support.services.ticket_reply`` (the reply is emailed and the
ticket becomes answered); re-sending failed emails through ``support.outbox``. Everything
customers typed or the answer model produced is escaped when shown.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import linebreaksbr, truncatechars
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from knowledge.admin import ReadOnlyTabularInline
from support.checks import confidence_weights_mismatch
from support.models import AnswerPolicy, EmailDelivery, Question, Ticket
from support.outbox import email_delivery_resend
from support.selectors import ticket_conversation
from support.services import ticket_reply


def sources_table(sources: list[dict[str, Any]]) -> SafeString | str:
    """The ``Question.sources`` JSON as an HTML table; every value is escaped."""
    if not sources:
        return "-"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                number,
                s.get("title", ""),
                f"{float(s.get('score') or 0):.3f}",
                _("yes") if s.get("cited") else "",
                truncatechars(str(s.get("excerpt", "")), 300),
            )
            for number, s in enumerate(sources, 1)
        ),
    )
    return format_html(
        "<table><thead><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("article"),
        _("score"),
        _("cited"),
        _("excerpt"),
        rows,
    )


def _confidence(question: Question) -> str:
    if question.confidence is None:
        return "-"
    if question.threshold is None:
        return f"{question.confidence:.3f}"
    verdict = _("above") if question.confidence >= question.threshold else _("below")
    return str(_("%(confidence).3f (threshold %(threshold).3f, %(verdict)s)")) % {
        "confidence": question.confidence,
        "threshold": question.threshold,
        "verdict": verdict,
    }


def failed_deliveries_warning(ticket: Ticket) -> SafeString | str:
    """A warning listing the ticket's failed emails with their errors (escaped), or "-"."""
    failed = list(ticket.deliveries.filter(state=EmailDelivery.State.FAILED))
    if not failed:
        return "-"
    items = format_html_join(
        "",
        "<li class='error'>{} {} → {}: {} ({} {})</li>",
        (
            (_("Not delivered:"), d.get_kind_display(), d.recipient, d.last_error, d.attempts, _("attempts"))
            for d in failed
        ),
    )
    outbox = reverse("admin:support_emaildelivery_changelist")
    return format_html(
        "<ul class='messagelist'>{}</ul><a href='{}?ticket__id__exact={}&amp;state__exact=failed'>{}</a>",
        items,
        outbox,
        ticket.pk,
        _("Re-send them from the outbox"),
    )


class EmailDeliveryInline(ReadOnlyTabularInline):
    model = EmailDelivery
    fields = ("kind", "recipient", "state", "attempts", "next_attempt_at", "sent_at", "last_error")
    readonly_fields = fields


class TicketAdminForm(forms.ModelForm):
    reply = forms.CharField(
        label=_("New reply to the customer"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text=_("Saving a reply emails it to the customer and marks the ticket answered."),
    )

    class Meta:
        model = Ticket
        fields = ["status"]


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketAdminForm
    list_display = ("reference", "status", "reason", "email", "created_at", "question_confidence")
    list_filter = ("status", "reason")
    search_fields = ("reference", "email", "question__text")
    list_select_related = ("question",)
    date_hierarchy = "created_at"
    inlines = [EmailDeliveryInline]
    # The model's ``reply`` is written only by ``ticket_reply``: the form's ``reply`` is a new
    # reply, never copied onto the instance (an empty one would erase the last reply).
    exclude = ("reply",)
    readonly_fields = (
        "reference", "email", "reason", "created_at", "question_text", "details_text", "draft_answer",
        "confidence_vs_threshold", "sources", "previous_reply", "failed_emails", "conversation",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("failed_emails", "reference", "status", "reason", "email", "created_at")}),
        (_("Question"), {"fields": ("question_text", "details_text", "conversation")}),
        (_("Automatic answer"), {"fields": ("draft_answer", "confidence_vs_threshold", "sources")}),
        (_("Reply"), {"fields": ("previous_reply", "reply")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        return super().get_queryset(request).select_related("question", "replied_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tickets come from customers

    def save_model(self, request: HttpRequest, obj: Ticket, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        body = form.cleaned_data.get("reply", "").strip()
        if body:
            ticket_reply(ticket=obj, body=body, by=request.user)
            self.message_user(
                request, _("The reply was saved and will be emailed to %(email)s.") % {"email": obj.email}
            )

    @admin.display(description=_("failed emails"))
    def failed_emails(self, ticket: Ticket) -> SafeString | str:
        return failed_deliveries_warning(ticket)

    @admin.display(description=_("confidence"), ordering="question__confidence")
    def question_confidence(self, ticket: Ticket) -> str:
        confidence = ticket.question.confidence
        return "-" if confidence is None else f"{confidence:.2f}"

    @admin.display(description=_("question"))
    def question_text(self, ticket: Ticket) -> SafeString:
        return linebreaksbr(ticket.question.text, autoescape=True)

    @admin.display(description=_("conversation"))
    def conversation(self, ticket: Ticket) -> SafeString | str:
        """Every turn up to the escalated question: the customer's words and what the portal showed."""
        turns = ticket_conversation(ticket)
        if len(turns) < 2:
            return "-"
        not_sure = _("(not sure; no answer shown)")
        rows = format_html_join(
            "",
            "<li><strong>{}</strong> {}<br>{}</li>",
            (
                (
                    f"{turn.turn}.",
                    linebreaksbr(turn.text, autoescape=True),
                    "" if turn.pk == ticket.question_id else (
                        not_sure if turn.escalation_recommended else linebreaksbr(turn.answer, autoescape=True)
                    ),
                )
                for turn in turns
            ),
        )  # fmt: skip
        return format_html("<ol class='conversation'>{}</ol>", rows)

    @admin.display(description=_("details"))
    def details_text(self, ticket: Ticket) -> SafeString | str:
        return linebreaksbr(ticket.details, autoescape=True) if ticket.details else "-"

    @admin.display(description=_("draft answer"))
    def draft_answer(self, ticket: Ticket) -> SafeString | str:
        question = ticket.question
        if not question.answer:
            return "-"
        return format_html("<em>[{}]</em><br>{}", question.answer_kind, linebreaksbr(question.answer, autoescape=True))

    @admin.display(description=_("confidence"))
    def confidence_vs_threshold(self, ticket: Ticket) -> str:
        return _confidence(ticket.question)

    @admin.display(description=_("sources"))
    def sources(self, ticket: Ticket) -> SafeString | str:
        return sources_table(ticket.question.sources)

    @admin.display(description=_("previous reply"))
    def previous_reply(self, ticket: Ticket) -> SafeString | str:
        if not ticket.reply:
            return "-"
        return format_html(
            "{}<div class='help'>{} {}</div>",
            linebreaksbr(ticket.reply, autoescape=True),
            ticket.replied_at or "",
            ticket.replied_by or "",
        )


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin):
    """The outbox, read-only: what was sent, what is retrying and why, what failed.

    Failed rows are put back in the outbox with the "Re-send" action (``email_delivery_resend``).
    Change permission is asked only for that action; object pages are view-only.
    """

    list_display = ("ticket", "kind", "recipient", "state", "attempts", "next_attempt_at", "sent_at", "short_error")
    list_filter = ("state", "kind")
    search_fields = ("ticket__reference", "recipient")
    list_select_related = ("ticket",)
    date_hierarchy = "created_at"
    actions = ["resend"]
    fields = (
        "ticket", "kind", "recipient", "state", "attempts", "next_attempt_at", "last_error", "claimed_at", "sent_at",
        "created_at", "message_id",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description=_("last error"))
    def short_error(self, delivery: EmailDelivery) -> str:
        return truncatechars(delivery.last_error, 120) if delivery.last_error else "-"

    @admin.display(description="Message-ID")
    def message_id(self, delivery: EmailDelivery) -> str:
        from support.emails import delivery_message_id

        return delivery_message_id(delivery)

    @admin.action(description=_("Re-send selected emails"), permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet[EmailDelivery]) -> None:
        selected = list(queryset)
        resent = sum(email_delivery_resend(delivery=d) for d in selected)
        self.message_user(
            request,
            ngettext(
                "%(resent)d of %(selected)d emails is back in the outbox (only failed emails are re-sent).",
                "%(resent)d of %(selected)d emails are back in the outbox (only failed emails are re-sent).",
                resent,
            )
            % {"resent": resent, "selected": len(selected)},
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    """Read-only: questions are evidence for review and calibration."""

    list_display = ("short_text", "status", "confidence", "language", "channel", "created_at")
    list_filter = ("status", "channel", "language")
    search_fields = ("text",)
    date_hierarchy = "created_at"
    fields = (
        "text", "conversation", "turn", "retrieval_query", "language", "channel", "status", "answer", "answer_kind",
        "confidence", "threshold", "escalation_recommended", "sources_html", "features", "error", "timings_ms",
        "usage", "created_at",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description=_("question"))
    def short_text(self, question: Question) -> str:
        return truncatechars(question.text, 80)

    @admin.display(description=_("sources"))
    def sources_html(self, question: Question) -> SafeString | str:
        return sources_table(question.sources)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class AnswerPolicyForm(forms.ModelForm):
    confidence_threshold = forms.FloatField(
        label=_("answer confidence threshold"),
        min_value=0.0,
        max_value=1.0,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
        help_text=_("Answers below this confidence are not shown; customers are offered the support team instead."),
    )

    class Meta:
        model = AnswerPolicy
        fields = ["confidence_threshold"]


@admin.register(AnswerPolicy)
class AnswerPolicyAdmin(admin.ModelAdmin):
    """The single policy row (pk=1): edit the threshold, read the calibration note."""

    form = AnswerPolicyForm
    list_display = ("__str__", "updated_at")
    fields = ("confidence_threshold", "calibration_note", "weights_fit", "updated_at")
    readonly_fields = ("calibration_note", "weights_fit", "updated_at")

    @admin.display(description=_("confidence weights"))
    def weights_fit(self, policy: AnswerPolicy) -> SafeString | str:
        differences = confidence_weights_mismatch()
        if not differences:
            return str(_("Fitted for the configuration that runs."))
        return format_html(
            '<ul class="errorlist">{}</ul>', format_html_join("", "<li>{}</li>", ((d,) for d in differences))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not AnswerPolicy.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
