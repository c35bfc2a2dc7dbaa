"""Admin for support staff: review escalated tickets and reply, inspect questions, tune the policy.

Every change to a ticket goes through ``support.workflow`` (a reply is emailed and the
ticket becomes answered); re-sending failed emails through ``support.outbox``. Everything
customers typed or the answer model produced is escaped when shown.
"""

import hashlib
import json
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import Combinable
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import linebreaksbr, truncatechars
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.utils.translation import override as translation_override

from knowledge.admin import CuratedAnswerAdmin, ReadOnlyTabularInline
from knowledge.chunking import plain_text
from knowledge.models import LIVE_KNOWLEDGE_BASE, Article, CuratedAnswer
from knowledge.services import ALIAS_MAX_CHARS, alias_line, article_sentences
from support.assist import AssistUnavailable, question_retrieve_now, retrieval_sources, similar_tickets
from support.checks import confidence_weights_mismatch
from support.drafting import ticket_draft_request
from support.finetune import curated_answer_pairs, prepare
from support.models import AnswerPolicy, EmailDelivery, Question, Ticket, TicketEvent
from support.outbox import email_delivery_resend
from support.selectors import answer_kind_label, ticket_history, ticket_turns
from support.tickets import TicketInvalid
from support.workflow import (
    ARTICLE_CHANGE_PERMISSION,
    GAP_ADD_PERMISSION,
    TICKET_WORK_PERMISSION,
    ticket_assign,
    ticket_next_statuses,
    ticket_note_add,
    ticket_reply,
    ticket_reply_draft_save,
    ticket_transition,
    ticket_wording_to_article,
    ticket_wording_to_gap,
    tickets_assign,
)


def _source_title(source: dict[str, Any]) -> str:
    title = str(source.get("title", ""))
    return f"[{_('Support answer')}] {title}" if source.get("kind") == "support_answer" else title


def sources_table(sources: list[dict[str, Any]]) -> SafeString | str:
    """The ``Question.sources`` JSON as an HTML table; every value is escaped, excerpts as plain
    text (:func:`knowledge.chunking.plain_text`), as customers see them."""
    if not sources:
        return "-"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                number,
                _source_title(s),
                f"{float(s.get('score') or 0):.3f}",
                _("yes") if s.get("cited") else "",
                truncatechars(plain_text(str(s.get("excerpt", ""))), 300),  # not "**", "##", "|---|"
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


class NextAttemptColumn:
    """The ``next_attempt`` column of the outbox's admin pages."""

    @admin.display(description=_("next attempt at"))
    def next_attempt(self, delivery: EmailDelivery) -> str:
        """When the outbox tries ``delivery`` again; "-" once it is sent (the column kept the
        lease of the attempt that sent it, five minutes after "sent at")."""
        if delivery.state == EmailDelivery.State.SENT or delivery.next_attempt_at is None:
            return "-"
        return date_format(timezone.localtime(delivery.next_attempt_at), "DATETIME_FORMAT")


class EmailDeliveryInline(NextAttemptColumn, ReadOnlyTabularInline):
    model = EmailDelivery
    fields = ("kind", "recipient", "state", "attempts", "next_attempt", "sent_at", "last_error")
    readonly_fields = fields


# Typed wording is cut to ALIAS_MAX_CHARS after its markup is removed (knowledge.services.alias_line);
# the form only bounds what is posted.
WORDING_MAX_CHARS = 4 * ALIAS_MAX_CHARS


SENTENCE_SUGGESTIONS_MAX = 200  # options of the answer box's list: the shown articles hold a few dozen


class SentenceSuggestionsInput(forms.TextInput):
    """A text box with the browser's own suggestion list (an HTML ``<datalist>``) of whole
    ``sentences``: words typed into it ("14일") list the sentences that hold them, and choosing
    one fills the box with it. Free text still works; no script is needed."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.sentences: list[str] = []  # set per form (TicketAdminForm: the shown articles')

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        if not self.sentences:
            return super().render(name, value, attrs, renderer)
        list_id = f"{(attrs or {}).get('id') or name}-sentences"
        box = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join("", '<option value="{}"></option>', ((s,) for s in self.sentences))
        return format_html('{}<datalist id="{}">{}</datalist>', box, list_id, options)


class ArticleChoiceField(forms.ModelChoiceField):
    """Articles named with their language: a help centre has the same title in Korean and English."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.title} ({obj.language})"


class TicketAdminForm(forms.ModelForm):
    """The agent's controls; nothing here is saved onto the ticket directly.

    ``TicketAdmin.save_model`` hands each field to a ``support.workflow`` service, so
    the same rules hold as for every other caller.
    """

    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=get_user_model().objects.none(), required=False)
    transition = forms.ChoiceField(label=_("Change status"), required=False)
    note = forms.CharField(
        label=_("Internal note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("Seen by staff only; never sent to the customer."),
    )
    reply = forms.CharField(
        label=_("Reply to the customer"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80}),
        help_text=_("“Send reply” emails it and marks the ticket answered; “Save” keeps it here as a draft."),
    )
    add_to_knowledge = forms.BooleanField(
        label=_("Add to knowledge base"),
        required=False,
        help_text=_(
            "With “Send reply”: the question and this reply become a curated answer in draft; "
            "a content editor reviews and publishes it."
        ),
    )
    knowledge_variants = forms.CharField(
        label=_("Other ways to ask it"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text=_("Optional, one per line."),
    )
    wording_article = ArticleChoiceField(
        label=_("The answer is in this article"),
        queryset=Article.objects.none(),
        required=False,
        help_text=_(
            "On “Save” or “Send reply”: the wording below joins the article's “also asked as” lines "
            "(searched, never shown), so the next customer who asks this way is answered from it."
        ),
    )
    no_article = forms.BooleanField(
        label=_("No article answers this"),
        required=False,
        help_text=_(
            "On “Save” or “Send reply”: the wording below is remembered as a known gap, so the next customer "
            "who asks alike is sent to support at once instead of an article's excerpt on something near."
        ),
    )
    wording = forms.CharField(
        label=_("Customer's wording"),
        required=False,
        max_length=WORDING_MAX_CHARS,
        widget=forms.TextInput(attrs={"size": 80}),
        help_text=_("Take out names, order numbers and anything else personal first."),
    )
    wording_answer = forms.CharField(
        label=_("Words of the sentence that answers it"),
        required=False,
        max_length=WORDING_MAX_CHARS,
        widget=SentenceSuggestionsInput(attrs={"size": 80}),
        help_text=_(
            "Optional: type words of the article's sentence that answers the customer and pick the sentence from "
            "the list, or copy them; the next customer who asks this way is quoted that sentence."
        ),
    )
    # What the page showed when it was opened (see ``TicketAdmin.save_model``): a page left open
    # while a colleague or the worker changed the ticket must not post its stale values back.
    seen_event = forms.IntegerField(widget=forms.HiddenInput, required=False)
    seen_assignee = forms.CharField(widget=forms.HiddenInput, required=False)
    seen_draft = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Ticket
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ticket = self.instance
        assignee = self.fields["assignee"]
        assert isinstance(assignee, forms.ModelChoiceField)
        # Only those who can work the ticket (ticket_assign refuses anyone else).
        workers = (
            get_user_model()
            .objects.with_perm(TICKET_WORK_PERMISSION, backend="django.contrib.auth.backends.ModelBackend")
            .filter(is_staff=True)
        )
        # The current assignee stays listed even if they lost the permission: otherwise the field
        # looked changed and any save (a note) unassigned the ticket.
        assignee.queryset = get_user_model().objects.filter(Q(pk__in=workers.values("pk")) | Q(pk=ticket.assignee_id))
        keep = _("— keep %(status)s —") % {"status": ticket.get_status_display()}
        next_statuses = [(value, Ticket.Status(value).label) for value in ticket_next_statuses(ticket)]
        transition = self.fields["transition"]
        assert isinstance(transition, forms.ChoiceField)
        transition.choices = [("", keep), *next_statuses]
        self.initial["reply"] = ticket.reply_draft  # not the model's ``reply``: that one was sent
        articles = self.fields["wording_article"]
        assert isinstance(articles, forms.ModelChoiceField)
        # The articles the customer was shown ("These articles might help") first, in that order:
        # the answer is usually among them, and a help centre has too many to scroll through.
        shown = list(
            dict.fromkeys(s["article_id"] for s in (ticket.question.sources or []) if ticket.pk and s.get("article_id"))
        )
        ordering: list[Any] = ["title"]
        if shown:  # a Case without a When is its default alone, and "ORDER BY 0" is a column position
            ordering.insert(
                0, Case(*(When(pk=pk, then=Value(rank)) for rank, pk in enumerate(shown)), default=len(shown))
            )
        articles.queryset = Article.objects.filter(
            knowledge_base__slug=LIVE_KNOWLEDGE_BASE, kind=Article.Kind.ARTICLE
        ).order_by(*ordering)
        # The answer box suggests the sentences of the articles the customer was shown.
        answer_box = self.fields["wording_answer"].widget
        assert isinstance(answer_box, SentenceSuggestionsInput)
        answer_box.sentences = [s for s in article_sentences(shown) if len(s) <= WORDING_MAX_CHARS][
            :SENTENCE_SUGGESTIONS_MAX
        ]
        self.initial["wording"] = alias_line(ticket.question.text) if ticket.pk else ""
        self.initial["seen_event"] = ticket.events.order_by("-pk").values_list("pk", flat=True).first() or 0
        self.initial["seen_assignee"] = seen_assignee_value(ticket.assignee_id)
        self.initial["seen_draft"] = text_digest(ticket.reply_draft)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("wording_article") is not None and data.get("no_article"):
            raise ValidationError(_("Choose the article that answers it or “No article answers this”, not both."))
        return data


def _event_by(event: TicketEvent) -> str:
    """Who made ``event``: the staff member, the customer, or the worker (a generated draft)."""
    if event.actor is not None:
        return str(event.actor.get_username())
    return str(_("the customer") if event.kind == TicketEvent.Kind.CUSTOMER_MESSAGE else _("automatic"))


def seen_assignee_value(assignee_id: int | None) -> str:
    """The hidden ``seen_assignee`` value: the assignee's id, or "none" (an absent field is "")."""
    return str(assignee_id) if assignee_id else "none"


def text_digest(text: str) -> str:
    """SHA-256 of ``text`` stripped (hex): the reply box as the page showed it, without sending it back."""
    return hashlib.sha256(text.strip().encode()).hexdigest()


class AgeFilter(admin.SimpleListFilter):
    """Tickets by how long ago they were opened."""

    title = _("age")
    parameter_name = "age"
    BUCKETS_DAYS = {"1d": (0, 1), "3d": (1, 3), "7d": (3, 7), "older": (7, None)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("1d", _("less than a day")), ("3d", _("1–3 days")), ("7d", _("3–7 days")), ("older", _("over a week")),
        ]  # fmt: skip

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        bucket = self.BUCKETS_DAYS.get(self.value() or "")
        if bucket is None:
            return queryset
        now = timezone.now()
        newest, oldest = bucket
        queryset = queryset.filter(created_at__lte=now - timedelta(days=newest))
        return queryset if oldest is None else queryset.filter(created_at__gt=now - timedelta(days=oldest))


class _NamedValuesFilter(admin.SimpleListFilter):
    """A filter over a plain text field whose stored values ("ko", "api") get names for staff
    (Django's own filter listed the codes, in the Korean admin too); ``names()`` gives them."""

    def names(self) -> dict[str, str]:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(self.names().items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(**{str(self.parameter_name): self.value()}) if self.value() else queryset


class QuestionLanguageFilter(_NamedValuesFilter):
    title = _("language")
    parameter_name = "language"

    def names(self) -> dict[str, str]:
        return {code: str(name) for code, name in settings.LANGUAGES}  # lazy names, in the active language


class ChannelFilter(_NamedValuesFilter):
    title = _("channel")
    parameter_name = "channel"

    def names(self) -> dict[str, str]:
        return channel_names()


def channel_names() -> dict[str, str]:
    """``Question.channel`` values named for staff, in the active language: the widget asks
    through the API."""
    return {"web": str(_("help-centre pages")), "api": str(_("API or widget"))}


STAY_BUTTONS = ("_send_reply", "_assign_to_me", "_draft_reply")
REFUSED_ATTRIBUTE = "_ticket_step_refused"  # set on the request by save_model when a service refused a step

# Default order: unanswered first (open, then waiting for the customer, then answered,
# then closed), oldest first within each.
STATUS_RANK = Case(
    *(When(status=value, then=Value(rank)) for rank, value in enumerate(Ticket.Status.values)),
    output_field=IntegerField(),
)


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Support agents' workspace: the ticket list and one page per ticket with its whole history.

    Buttons on the change page (``admin/support/ticket/submit_line.html``): "Send reply",
    "Assign to me". Every change goes through ``support.workflow``.
    """

    form = TicketAdminForm
    list_display = ("reference", "status", "reason", "assignee", "email", "created_at", "question_confidence")
    list_filter = ("status", "reason", ("assignee", admin.RelatedOnlyFieldListFilter), AgeFilter)
    search_fields = ("reference", "email", "question__text")
    list_select_related = ("question", "assignee")
    date_hierarchy = "created_at"
    actions = ["assign_to_me", "close"]
    inlines = [EmailDeliveryInline]
    readonly_fields = (
        "reference", "status", "assignee_name", "email", "acknowledgement", "reason", "created_at", "question_text",
        "details_text",
        "draft_answer", "confidence_vs_threshold", "sources", "previous_reply", "failed_emails", "history",
        "sources_now", "similar_past_tickets", "generated_draft", "conversation",
    )  # fmt: skip
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "failed_emails",
                    "reference",
                    "status",
                    "assignee_name",
                    "reason",
                    "email",
                    "acknowledgement",
                    "created_at",
                )
            },
        ),
        (_("Question"), {"fields": ("question_text", "details_text", "conversation")}),
        (_("Automatic answer"), {"fields": ("draft_answer", "confidence_vs_threshold", "sources")}),
        (_("Answer assist"), {"fields": ("sources_now", "similar_past_tickets", "generated_draft")}),
        (
            _("Work on the ticket"),
            {"fields": ("assignee", "transition", "note", ("seen_event", "seen_assignee", "seen_draft"))},
        ),
        (_("Reply"), {"fields": ("previous_reply", "reply", "add_to_knowledge", "knowledge_variants")}),
        (_("Teach the help centre"), {"fields": ("wording_article", "no_article", "wording", "wording_answer")}),
        (_("History"), {"fields": ("history",)}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Ticket | None = None) -> Any:
        """The fieldsets; "Teach the help centre" holds the article choice for staff who may change
        articles and "No article answers this" for those who may add known gaps, and is left out
        for staff who may do neither."""
        allowed = {
            "wording_article": request.user.has_perm(ARTICLE_CHANGE_PERMISSION),
            "wording_answer": request.user.has_perm(ARTICLE_CHANGE_PERMISSION),
            "no_article": request.user.has_perm(GAP_ADD_PERMISSION),
        }
        result = []
        for name, options in super().get_fieldsets(request, obj):
            if "wording_article" in options["fields"]:
                if not any(allowed.values()):
                    continue
                fields = tuple(f for f in options["fields"] if not isinstance(f, str) or allowed.get(f, True))
                options = {**options, "fields": fields}
            result.append((name, options))
        return result

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        return super().get_queryset(request).select_related("question", "replied_by", "assignee")

    def get_ordering(self, request: HttpRequest) -> tuple[str | Combinable, ...]:
        return (STATUS_RANK.asc(), "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tickets come from customers

    def save_model(self, request: HttpRequest, obj: Ticket, form: forms.ModelForm, change: bool) -> None:
        """Hand each control to its service; a refused one is reported, the others still apply.

        Only what this agent changed on the page is applied: the assignee when it differs from
        the one the page showed (``seen_assignee``), the reply box when its text differs from the
        one shown (``seen_draft``), so a page left open while a colleague assigned the ticket or the
        worker wrote a draft does not undo them; a reply is not sent when a colleague replied
        after the page was opened (``seen_event``), and any change since is said (a warning)."""
        data, user = form.cleaned_data, request.user
        since = self._changed_since(request, obj, data.get("seen_event"))
        seen_assignee, seen_draft = data.get("seen_assignee") or "", data.get("seen_draft") or ""
        steps: list[tuple[Any, dict[str, Any]]] = []
        if "_assign_to_me" in request.POST:
            steps.append((ticket_assign, {"to": user}))
        elif "assignee" in form.changed_data:
            chosen = data.get("assignee")
            if not seen_assignee or seen_assignee_value(chosen.pk if chosen else None) != seen_assignee:
                steps.append((ticket_assign, {"to": chosen}))
        if data.get("note", "").strip():
            steps.append((ticket_note_add, {"body": data["note"]}))
        transition = data.get("transition") or ""
        if transition and obj.status == Ticket.Status.CLOSED:  # reopen before anything else
            steps.append((ticket_transition, {"to": transition}))
            transition = ""
        body = data.get("reply", "").strip()
        replied = [e for e in since if e.kind == TicketEvent.Kind.REPLY]
        send_refused = "_send_reply" in request.POST and bool(replied) and bool(body)
        if send_refused:
            self.message_user(
                request,
                _(
                    "While you had this ticket open, %(name)s replied to the customer; your reply was not "
                    "sent and is kept as a draft. Read their reply first."
                )
                % {"name": _event_by(replied[-1])},
                messages.ERROR,
            )
            steps.append((ticket_reply_draft_save, {"body": body}))
        elif "_send_reply" in request.POST:
            curate = bool(data.get("add_to_knowledge")) and user.has_perm("knowledge.add_curatedanswer")
            variants = data.get("knowledge_variants", "")
            steps.append((ticket_reply, {"body": body, "add_to_knowledge": curate, "variants": variants}))
        elif body != obj.reply_draft.strip() and (not seen_draft or text_digest(body) != seen_draft):
            steps.append((ticket_reply_draft_save, {"body": body}))
        if "_draft_reply" in request.POST:  # after the box was kept: a draft never overwrites it
            steps.append((ticket_draft_request, {}))
        if transition:
            steps.append((ticket_transition, {"to": transition}))
        if data.get("wording_article") is not None:
            steps.append(
                (
                    ticket_wording_to_article,
                    {
                        "article": data["wording_article"],
                        "text": data.get("wording", ""),
                        "answer": data.get("wording_answer", ""),
                    },
                )
            )
        elif data.get("no_article"):
            steps.append((ticket_wording_to_gap, {"text": data.get("wording", "")}))
        for service, kwargs in steps:
            try:
                done = service(ticket=obj, by=user, **kwargs)
            except TicketInvalid as exc:
                self.message_user(request, str(exc), messages.ERROR)
                setattr(request, REFUSED_ATTRIBUTE, True)  # stay on the ticket: see response_change
                if service is ticket_reply and body:  # not sent: keep what the agent wrote
                    ticket_reply_draft_save(ticket=obj, body=body, by=user)
                continue
            if service is ticket_reply:
                self.message_user(
                    request, _("The reply was saved and will be emailed to %(email)s.") % {"email": obj.email}
                )
                if kwargs.get("add_to_knowledge"):
                    self.message_user(request, _("A curated answer was created in draft for a content editor."))
            elif service is ticket_assign:
                assignee = kwargs.get("to")
                self.message_user(
                    request,
                    _("The ticket is assigned to %(name)s.") % {"name": assignee.get_username()}
                    if assignee
                    else _("The ticket is unassigned."),
                )
            elif service is ticket_wording_to_article:
                article = kwargs["article"]
                with translation_override(None):  # stored untranslated, as the admin's own change messages
                    label = str(capfirst(Article._meta.get_field("aliases").verbose_name))
                self.log_change(request, article, [{"changed": {"fields": [label]}}])
                line = Article.objects.get(pk=article.pk).aliases.splitlines()[-1]  # as stored: cut, no markup
                self.message_user(
                    request,
                    _("“%(article)s” now also answers “%(line)s”; it is being re-indexed.")
                    % {"article": article.title, "line": line},
                )
            elif service is ticket_wording_to_gap:
                message = _(
                    "“%(line)s” is remembered as a question no article answers; customers asking alike go to support."
                )
                self.message_user(request, message % {"line": done.body})
            elif service is ticket_draft_request:
                self.message_user(request, _("A draft reply is being written; reload the page in a few seconds."))
            elif service is ticket_reply_draft_save and body and not send_refused:
                self.message_user(
                    request, _("Your reply is kept as a draft; press “Send reply” to email it."), messages.WARNING
                )

    def _changed_since(self, request: HttpRequest, ticket: Ticket, seen_event: int | None) -> list[TicketEvent]:
        """The ticket's events after ``seen_event`` (the newest the page showed), said to the agent
        as a warning when there are any; none when the page sent no ``seen_event``."""
        if seen_event is None:
            return []
        since = list(ticket.events.filter(pk__gt=seen_event).select_related("actor").order_by("pk"))
        if since:
            what = ", ".join(dict.fromkeys(f"{event.get_kind_display()} ({_event_by(event)})" for event in since))
            self.message_user(
                request,
                _("This ticket changed while you had it open: %(what)s. Only what you changed was applied.")
                % {"what": what},
                messages.WARNING,
            )
        return since

    def response_change(self, request: HttpRequest, obj: Ticket) -> HttpResponse:
        """Back to the ticket after the stay buttons, and after any refused step (its error says
        why; the admin's "changed successfully" and a jump to the list had hidden it)."""
        if any(button in request.POST for button in STAY_BUTTONS) or getattr(request, REFUSED_ATTRIBUTE, False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    @admin.action(description=_("Assign selected tickets to me"), permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        count = tickets_assign(tickets=list(queryset), to=request.user, by=request.user)
        self.message_user(
            request,
            ngettext("%(count)d ticket assigned to you.", "%(count)d tickets assigned to you.", count)
            % {"count": count},
        )

    @admin.action(description=_("Close selected tickets"), permissions=["change"])
    def close(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        closed = 0
        for ticket in queryset.exclude(status=Ticket.Status.CLOSED):  # already closed: nothing to count
            try:
                ticket_transition(ticket=ticket, to=Ticket.Status.CLOSED, by=request.user)
                closed += 1
            except TicketInvalid as exc:
                self.message_user(request, f"{ticket.reference}: {exc}", messages.ERROR)
        self.message_user(
            request, ngettext("%(count)d ticket closed.", "%(count)d tickets closed.", closed) % {"count": closed}
        )

    @admin.display(description=_("assignee"))
    def assignee_name(self, ticket: Ticket) -> str:
        return ticket.assignee.get_username() if ticket.assignee else "-"

    @admin.display(description=_("history"))
    def history(self, ticket: Ticket) -> SafeString:
        rows = format_html_join(
            "",
            '<tr class="{}"><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>',
            (
                (
                    "history-internal" if e.internal else "history-customer",
                    date_format(timezone.localtime(e.at), "DATETIME_FORMAT"),
                    e.who,
                    e.what,
                    format_html(" <em>({})</em>", _("internal")) if e.internal else "",
                    linebreaksbr(e.text, autoescape=True) if e.text else "",
                )
                for e in ticket_history(ticket)
            ),
        )
        return format_html(
            '<table id="ticket-history"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            _("when"), _("who"), _("what"), _("text"), rows,
        )  # fmt: skip

    @admin.display(description=_("sources now"))
    def sources_now(self, ticket: Ticket) -> SafeString | str:
        """What retrieval finds for the question today (the knowledge base may have changed)."""
        try:
            sources = retrieval_sources(question_retrieve_now(ticket.question))
        except AssistUnavailable as exc:
            return format_html('<ul class="errorlist"><li>{}</li></ul>', str(exc))
        if not sources:
            return str(_("No help article matches this question now."))
        return sources_table(sources)

    @admin.display(description=_("similar past tickets"))
    def similar_past_tickets(self, ticket: Ticket) -> SafeString | str:
        try:
            similar = similar_tickets(ticket)
        except AssistUnavailable as exc:
            return format_html('<ul class="errorlist"><li>{}</li></ul>', str(exc))
        if not similar:
            return str(_("No similar ticket has been answered yet."))
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:support_ticket_change", args=[s.ticket.pk]), s.ticket.reference,
                    f"{s.similarity:.3f}", truncatechars(s.ticket.question.text, 200),
                    linebreaksbr(truncatechars(s.ticket.reply, 600), autoescape=True),
                )
                for s in similar
            ),
        )  # fmt: skip
        return format_html(
            '<table id="similar-tickets"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            _("ticket"), _("similarity"), _("question"), _("reply"), rows,
        )  # fmt: skip

    @admin.display(description=_("draft reply"))
    def generated_draft(self, ticket: Ticket) -> SafeString | str:
        """The last "Draft reply" result: being written, failed (why), or the text with its sources."""
        if ticket.draft_state == Ticket.DraftState.PENDING:
            return format_html('<p id="draft-state">{}</p>', _("Being written… reload the page in a few seconds."))
        if ticket.draft_state == Ticket.DraftState.FAILED:
            return format_html('<ul class="errorlist" id="draft-state"><li>{}</li></ul>', ticket.draft_error)
        if ticket.draft_state != Ticket.DraftState.READY:
            return str(_("Press “Draft reply” to have one written from the sources found now."))
        note = ""
        if ticket.reply_draft_edited_by_id is not None and ticket.reply_draft != ticket.draft_text:
            note = str(_("Your own text stays in the reply box; copy from this draft what you need."))
        return format_html(
            '<p id="draft-state"><em>[{}]</em> {}</p><div>{}</div><p>{}</p>{}',
            answer_kind_label(ticket.draft_kind), note, linebreaksbr(ticket.draft_text, autoescape=True),
            _("Sources used:"),
            sources_table(ticket.draft_sources),
        )  # fmt: skip

    @admin.display(description=_("failed emails"))
    def failed_emails(self, ticket: Ticket) -> SafeString | str:
        return failed_deliveries_warning(ticket)

    @admin.display(description=_("confidence"), ordering="question__confidence")
    def question_confidence(self, ticket: Ticket) -> str:
        confidence = ticket.question.confidence
        return "-" if confidence is None else f"{confidence:.2f}"

    @admin.display(description=_("acknowledgement email"))
    def acknowledgement(self, ticket: Ticket) -> str:
        """Whether the customer was sent the confirmation with the ticket's link: held back by a
        cap, sent, or still owed (it had said "Sent" while the outbox was still retrying it)."""
        if ticket.ack_suppressed:
            return str(
                _("Not sent: an hourly cap held it back, so the customer has no link to this ticket until you reply.")
            )
        ack = ticket.deliveries.filter(kind=EmailDelivery.Kind.ACKNOWLEDGEMENT).first()
        if ack is not None and ack.state == EmailDelivery.State.SENT:
            return str(_("Sent."))
        state = ack.get_state_display() if ack is not None else "-"
        return str(_("Not sent yet (%(state)s; see the email deliveries below).") % {"state": state})

    @admin.display(description=_("question"))
    def question_text(self, ticket: Ticket) -> SafeString:
        return linebreaksbr(ticket.question.text, autoescape=True)

    @admin.display(description=_("conversation"))
    def conversation(self, ticket: Ticket) -> SafeString | str:
        """Every turn up to the escalated question: the customer's words and what the portal showed."""
        turns = ticket_turns(ticket)
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
        kind = {"extractive": _("an excerpt"), "llm": _("the chat model")}.get(
            question.answer_kind, question.answer_kind
        )
        if question.escalation_recommended:  # a guess below the threshold: often from an unrelated article
            said = _("Not shown to the customer (confidence %(confidence)s): %(kind)s the portal was unsure of.")
        else:
            said = _("Shown to the customer (confidence %(confidence)s): %(kind)s.")
        confidence = "-" if question.confidence is None else f"{question.confidence:.3f}"
        return format_html(
            "<em>{}</em><br>{}",
            said % {"confidence": confidence, "kind": kind},
            linebreaksbr(question.answer, autoescape=True),
        )

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
        when = date_format(timezone.localtime(ticket.replied_at), "DATETIME_FORMAT") if ticket.replied_at else ""
        return format_html(
            "{}<div class='help'>{} {}</div>",
            linebreaksbr(ticket.reply, autoescape=True),
            when,  # local time, formatted like the rest of admin (it was a raw UTC timestamp)
            ticket.replied_by or "",
        )


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(NextAttemptColumn, admin.ModelAdmin):
    """The outbox, read-only: what was sent, what is retrying and why, what failed.

    Failed rows are put back in the outbox with the "Re-send" action (``email_delivery_resend``).
    Change permission is asked only for that action; object pages are view-only.
    """

    list_display = ("ticket", "kind", "recipient", "state", "attempts", "next_attempt", "sent_at", "short_error")
    list_filter = ("state", "kind")
    search_fields = ("ticket__reference", "recipient")
    list_select_related = ("ticket",)
    date_hierarchy = "created_at"
    actions = ["resend"]
    fields = (
        "ticket", "kind", "recipient", "state", "attempts", "next_attempt", "last_error", "claimed_at", "sent_at",
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

    list_display = (
        "short_text", "status", "confidence_shown", "feedback_verdict", "language_shown", "channel_shown", "created_at",
    )  # fmt: skip
    list_filter = ("status", "feedback__helpful", ChannelFilter, QuestionLanguageFilter)
    list_select_related = ("feedback",)
    search_fields = ("text",)
    date_hierarchy = "created_at"
    fields = (
        "text", "conversation", "turn", "retrieval_query", "language_shown", "channel_shown", "status", "answer",
        "answer_kind", "confidence_shown", "threshold", "escalation_recommended", "feedback_verdict",
        "feedback_comment", "sources_html", "features", "error", "timings_ms", "usage", "created_at",
    )  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Question]:
        return super().get_queryset(request).select_related("feedback")

    @admin.display(description=_("confidence"), ordering="confidence")
    def confidence_shown(self, question: Question) -> str:
        """Three decimals, as the ticket page and the notification (was 0.5772347816198311)."""
        return "-" if question.confidence is None else f"{question.confidence:.3f}"

    @admin.display(description=_("channel"), ordering="channel")
    def channel_shown(self, question: Question) -> str:
        return channel_names().get(question.channel, question.channel)

    @admin.display(description=_("language"), ordering="language")
    def language_shown(self, question: Question) -> str:
        """The language's name ("Korean", "한국어") rather than its code."""
        return str(dict(settings.LANGUAGES).get(question.language, question.language or "-"))

    @admin.display(description=_("question"))
    def short_text(self, question: Question) -> str:
        return truncatechars(question.text, 80)

    @admin.display(description=_("customer feedback"), ordering="feedback__helpful")
    def feedback_verdict(self, question: Question) -> str:
        feedback = getattr(question, "feedback", None)
        if feedback is None:
            return "-"
        return str(_("helpful")) if feedback.helpful else str(_("not helpful"))

    @admin.display(description=_("feedback comment"))
    def feedback_comment(self, question: Question) -> SafeString | str:
        feedback = getattr(question, "feedback", None)
        if feedback is None or not feedback.comment:
            return "-"
        return linebreaksbr(feedback.comment, autoescape=True)

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


@admin.action(description=_("Export as fine-tuning data (chat JSONL)"), permissions=["view"])
def export_finetune(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[CuratedAnswer]
) -> HttpResponse | None:
    """Download the selected curated answers as chat fine-tuning examples, validated as
    ``manage.py export_finetune`` validates them (``support.finetune.prepare``)."""
    prepared = prepare(curated_answer_pairs(queryset), "chat")
    if not prepared.examples:
        modeladmin.message_user(request, _("No valid examples in the selection."), messages.ERROR)
        return None
    body = "".join(json.dumps(example, ensure_ascii=False) + "\n" for example in prepared.examples)
    response = HttpResponse(body, content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="curated-answers-finetune.jsonl"'
    return response


# knowledge does not import support; support adds its export to the curated-answer admin.
CuratedAnswerAdmin.actions = [*CuratedAnswerAdmin.actions, export_finetune]  # type: ignore[misc]
