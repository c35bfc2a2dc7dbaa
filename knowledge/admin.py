"""Admin for the knowledge base: declarative, with validation in the form.

Saving an article schedules its indexing (``knowledge.services``); the worker fills the
read-only indexing fields. Chunks are shown read-only: they are derived data.
"""

import re
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from knowledge.chunking import plain_text, strip_html
from knowledge.curated import (
    articles_unpublish,
    curated_answer_delete,
    curated_answer_publish,
    curated_answer_saved,
    curated_answer_unpublish,
)
from knowledge.models import Article, ArticleSlugRedirect, Chunk, CuratedAnswer, KnowledgeBase, KnownGap
from knowledge.services import (
    ALIAS_MAX_CHARS,
    ALIASES_MAX_LINES,
    ArticleAliasesTooLarge,
    ArticleTooLarge,
    alias_answers_clean,
    article_is_large,
    article_schedule_indexing,
    article_slug_changed,
    article_validate_aliases,
    article_validate_body,
    knowledge_base_get_live,
)

# What a support answer's curated answer decides (knowledge.curated.curated_answer_publish).
SUPPORT_ANSWER_LOCKED = (
    "knowledge_base", "title", "slug", "language", "status", "published_at", "aliases", "alias_answers", "body",
)  # fmt: skip
SUPPORT_ANSWERS_ELSEWHERE = _("Support answers are published and unpublished with their curated answer.")

STUCK_AFTER_MINUTES = 3  # an article indexing longer than this says for how long in the list

INDEXING_FIELDS = (
    "index_state", "index_error", "index_requested_at", "index_started_at", "index_attempts", "indexed_at",
    "embedding_model", "chunk_count",
)  # fmt: skip


def _aliases_checked(aliases: str) -> str:
    """``aliases`` (or a curated answer's variants) within ``article_validate_aliases``'s limits,
    else a form error in the admin's language."""
    try:
        article_validate_aliases(aliases)
    except ArticleAliasesTooLarge as exc:
        raise ValidationError(
            _(
                "At most %(max_lines)s lines of at most %(max_chars)s characters; "
                "found %(lines)s line(s), the longest %(longest)s characters."
            ),
            code="too_large",
            params={"max_lines": ALIASES_MAX_LINES, "max_chars": ALIAS_MAX_CHARS, "lines": exc.lines,
                    "longest": exc.longest},
        ) from None  # fmt: skip
    return aliases


# Text that addresses an AI model rather than customers ("ignore previous instructions …"): a
# prompt injection pasted into an article, or a note never meant for them. The extractive answer
# quotes article sentences word for word, so staff are told when they save it.
_INSTRUCTION_TO_A_MODEL = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:the\s+|your\s+)?(?:previous|prior|above|earlier)\s+"
    r"(?:instructions?|prompts?|rules)|\bsystem\s+prompt\b|\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:ai|chatbot|assistant)\b"
    r"|(?:이전|앞|위|기존)\s*의?\s*(?:모든\s*)?(?:지시|명령|지침|프롬프트)\S*\s*(?:모두\s*|전부\s*)?무시"
    r"|시스템\s*프롬프트",
    re.IGNORECASE,
)


def article_save_warnings(article: Article) -> list[str]:
    """What staff should hear about ``article``'s body when it is saved (messages, translated):
    no text left once HTML is removed (no chunk, nothing to answer from, a page with only its
    title), or a line that addresses an AI model (quoted, shortened)."""
    warnings = []
    if article.body.strip() and not plain_text(strip_html(article.body)).strip():
        warnings.append(
            str(
                _(
                    "Once its HTML is removed this article has no text: customers cannot be answered from it, "
                    "and its page shows only the title."
                )
            )
        )
    for line in strip_html(article.body).splitlines():
        if _INSTRUCTION_TO_A_MODEL.search(line):
            warnings.append(
                str(
                    _(
                        "This line reads like an instruction to an AI model: “%(line)s”. Answers quote articles word "
                        "for word, so customers may be shown it; remove it unless it is meant for them."
                    )
                )
                % {"line": truncatechars(line.strip(), 120)}
            )
            break
    return warnings


class ArticleAdminForm(forms.ModelForm):
    source_url = forms.URLField(label=_("source URL"), max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = Article
        fields = [
            "knowledge_base", "title", "slug", "language", "status", "published_at", "source_url", "aliases",
            "alias_answers", "body",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "aliases" in self.fields:
            self.fields["aliases"].help_text = _(
                "Other ways customers ask for this article, one per line. In a bilingual help centre write its title "
                "and then each heading in the other language, in order, before any other wording: Korean questions "
                "then find an English article and the reverse, and the answer quotes the right section. Searched, "
                "never shown."
            )
        if "alias_answers" in self.fields:
            self.fields["alias_answers"].help_text = _(
                'Taught from tickets: {"a line above": "the sentence of the body that answers it"}. A customer asking '
                "in nearly that line's words is quoted the sentence too. Answers of lines no longer above are dropped."
            )
        if "knowledge_base" in self.fields:
            field = self.fields["knowledge_base"]
            field.required = False
            field.help_text = _("Empty means the live help centre, which customers are answered from.")
            if self.instance.pk is None:
                field.initial = knowledge_base_get_live().pk

    def clean_knowledge_base(self) -> KnowledgeBase:
        return self.cleaned_data.get("knowledge_base") or knowledge_base_get_live()

    def clean(self) -> dict[str, Any]:
        """A published article gets today's date when the form leaves it blank, as the publish
        action gives one: without it, it sorted above every dated article and carried no date."""
        data = super().clean() or self.cleaned_data
        if data.get("status") == Article.Status.PUBLISHED and not data.get("published_at"):
            data["published_at"] = timezone.now()
        slug, kb = data.get("slug"), data.get("knowledge_base")
        if slug and kb and not self.has_error("slug"):
            # "Refund-Policy" beside "refund-policy": two pages whose addresses differ only in case
            twin = Article.objects.filter(knowledge_base=kb, slug__iexact=slug).exclude(pk=self.instance.pk).first()
            if twin is not None and twin.slug == slug:  # said here, not as Django's "… 또한 슬러그 은/는 …"
                message = _("Another article in this knowledge base already has this slug.")
                self.add_error("slug", ValidationError(message, code="unique"))
            elif twin is not None:
                message = _("“%(other)s” is already a slug here; slugs may not differ only in upper and lower case.")
                self.add_error(
                    "slug", ValidationError(message, code="unique_ignoring_case", params={"other": twin.slug})
                )
            elif (
                moved := ArticleSlugRedirect.objects.filter(knowledge_base=kb, old_slug=slug)
                .exclude(article_id=self.instance.pk)
                .select_related("article")
                .first()
            ) is not None:
                # Earlier answers, reply emails and bookmarks link there and lead to that article;
                # taken by another one, they would open it instead, with no warning.
                message = _(
                    "This address was “%(title)s”'s and still leads there from earlier answers and emails; "
                    "choose another slug."
                )
                self.add_error(
                    "slug", ValidationError(message, code="redirecting", params={"title": moved.article.title})
                )
        return data

    def clean_aliases(self) -> str:
        return _aliases_checked(self.cleaned_data.get("aliases", ""))

    def clean_alias_answers(self) -> dict[str, str]:
        try:
            return alias_answers_clean(self.cleaned_data.get("aliases", ""), self.cleaned_data.get("alias_answers"))
        except ValueError as exc:
            raise ValidationError(_('Write it as {"line": "sentence", …}: each line with one sentence.')) from exc

    def clean_body(self) -> str:
        # Browsers post a textarea's line breaks as CR LF: stored as typed, every line counted
        # one character more against the body limit and the long-article size than the editor shows.
        body: str = self.cleaned_data["body"].replace("\r\n", "\n")
        try:
            article_validate_body(body)
        except ArticleTooLarge:
            raise ValidationError(
                _("The body has %(count)s characters; the limit is %(limit)s. Split it into several articles."),
                code="too_large",
                params={"count": f"{len(body):,}", "limit": f"{settings.ARTICLE_BODY_MAX_CHARS:,}"},
            ) from None
        return body


class ReadOnlyTabularInline(admin.TabularInline):
    """An inline that lists rows written by the system: no adding, changing or deleting."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ChunkInline(ReadOnlyTabularInline):
    model = Chunk
    fields = ("ordinal", "token_count", "excerpt", "embedding_model")
    readonly_fields = fields
    show_change_link = False
    verbose_name = _("chunk")
    verbose_name_plural = _("chunks (indexed slices of the body)")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Chunk]:
        # Vectors and lexemes are large and not shown.
        return super().get_queryset(request).defer("embedding", "text", "lexemes")

    @admin.display(description=_("content"))
    def excerpt(self, chunk: Chunk) -> str:
        return truncatechars(chunk.content, 160)


def indexing_queued_message(article: Article) -> str:
    """What staff are told when ``article``'s indexing was queued: when customers see it (a
    draft never; a long article after minutes, on its own worker; else in a moment)."""
    if article.status != Article.Status.PUBLISHED:
        return str(
            _(
                "Saved as a draft: customers do not see it until it is published; it is indexed now, so "
                "publishing makes it answerable at once."
            )
        )
    if article_is_large(len(article.body)):
        return str(
            _(
                "Indexing was queued. A long article (%(chars)s characters) takes a few minutes to become "
                "searchable; shorter articles saved meanwhile are not held back."
            )
            % {"chars": number_format(len(article.body), force_grouping=True)}
        )
    return str(_("Indexing was queued; the article will be searchable in a moment."))


class SeenByCustomersFilter(admin.SimpleListFilter):
    """Which articles customers see now (``Article.live_q``), which are scheduled, which not."""

    title = _("seen by customers")
    parameter_name = "seen"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("now", _("now")), ("scheduled", _("scheduled")), ("no", _("not published"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Article]) -> QuerySet[Article]:
        if self.value() == "now":
            return queryset.filter(Article.live_q())
        if self.value() == "scheduled":
            return queryset.filter(Article.scheduled_q())
        if self.value() == "no":
            return queryset.exclude(status=Article.Status.PUBLISHED)
        return queryset


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleAdminForm
    list_display = (
        "title", "status_shown", "kind", "language", "published_at", "index_state_shown", "chunk_count",
        "embedding_model", "indexed_at",
    )  # fmt: skip
    list_filter = (SeenByCustomersFilter, "status", "kind", "language", "index_state", "knowledge_base")
    search_fields = ("title", "aliases", "slug", "body")  # "also asked as" lines and the address too
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = INDEXING_FIELDS
    date_hierarchy = "published_at"
    inlines = [ChunkInline]
    actions = ["publish", "unpublish", "reindex"]
    fieldsets = (
        (None, {"fields": ("knowledge_base", "title", "slug", "language", "status", "published_at", "source_url")}),
        (_("Search"), {"fields": ("aliases", "alias_answers")}),
        (_("Body"), {"fields": ("body",)}),
        (_("Indexing details"), {"fields": INDEXING_FIELDS}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Article | None = None) -> Any:
        """A support answer is the published form of a curated answer: edited there, never here
        (an edit here was overwritten by the next curated-answer save, and unpublishing it here
        left the curated answer "published" until a save published the article again)."""
        if obj is not None and obj.kind == Article.Kind.SUPPORT_ANSWER:
            return (*SUPPORT_ANSWER_LOCKED, "curated_answer_link", *INDEXING_FIELDS)
        return INDEXING_FIELDS

    def has_delete_permission(self, request: HttpRequest, obj: Article | None = None) -> bool:
        """A support answer is deleted with its curated answer (Curated answers), not here."""
        if obj is not None and obj.kind == Article.Kind.SUPPORT_ANSWER:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        for curated in CuratedAnswer.objects.filter(article__in=queryset):  # with their curated answer
            curated_answer_delete(curated_answer=curated)
        super().delete_queryset(request, queryset)  # the rest (support answers are gone already)

    def get_prepopulated_fields(self, request: HttpRequest, obj: Article | None = None) -> dict[str, Any]:
        return {} if obj is not None and obj.kind == Article.Kind.SUPPORT_ANSWER else dict(self.prepopulated_fields)

    def get_fieldsets(self, request: HttpRequest, obj: Article | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.kind == Article.Kind.SUPPORT_ANSWER:
            return ((_("Support answer"), {"fields": ("curated_answer_link",)}), *fieldsets)
        return fieldsets

    @admin.display(description=_("status"), ordering="status")
    def status_shown(self, article: Article) -> str:
        """The status, with a published article dated in the future shown as scheduled (it had
        looked live in the list: only the save message said otherwise)."""
        if article.scheduled and article.published_at:
            return str(_("Scheduled for %(date)s") % {"date": date_format(timezone.localtime(article.published_at))})
        return str(article.get_status_display())

    @admin.display(description=_("indexing state"), ordering="index_state")
    def index_state_shown(self, article: Article) -> str:
        """The indexing state; an article indexing for more than ``STUCK_AFTER_MINUTES`` says
        for how long and when a stopped worker's claim is taken over (a killed worker had left
        "Indexing" for a quarter of an hour with no hint)."""
        state = str(article.get_index_state_display())
        if article.index_state != Article.IndexState.INDEXING or article.index_started_at is None:
            return state
        minutes = int((timezone.now() - article.index_started_at).total_seconds() // 60)
        if minutes < STUCK_AFTER_MINUTES:
            return state
        return str(
            _("%(state)s for %(minutes)d min (a worker that stopped is replaced after %(limit)d min)")
            % {"state": state, "minutes": minutes, "limit": settings.INDEX_CLAIM_TIMEOUT_SECONDS // 60}
        )

    @admin.display(description=_("Edited as"))
    def curated_answer_link(self, article: Article) -> SafeString | str:
        curated = CuratedAnswer.objects.filter(article=article).first()
        if curated is None:
            return "-"
        url = reverse("admin:knowledge_curatedanswer_change", args=[curated.pk])
        return format_html(
            '<a href="{}">{}</a>', url, _("a curated answer: edit, publish or unpublish it there")
        )  # fmt: skip

    def save_model(self, request: HttpRequest, obj: Article, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "slug" in form.changed_data:
            old_slug = str(form.initial.get("slug") or "")
            article_slug_changed(article=obj, old_slug=old_slug)
            self.message_user(
                request,
                _("The old address /articles/%(old)s/ now leads to this article.") % {"old": old_slug},
            )
        if article_schedule_indexing(article=obj):
            self.message_user(request, indexing_queued_message(obj))
        elif change and "status" in form.changed_data and obj.status != Article.Status.PUBLISHED:
            # "nothing was re-indexed" alone had left staff unsure whether customers still saw it
            self.message_user(request, _("Unpublished: customers no longer see this article or get answers from it."))
        else:
            self.message_user(request, _("The indexed content did not change, so nothing was re-indexed."))
        if obj.scheduled and obj.published_at:
            self.message_user(
                request,
                _("Scheduled for %(date)s: from then on customers see this article and are answered from it.")
                % {"date": date_format(timezone.localtime(obj.published_at), "DATETIME_FORMAT")},
                messages.WARNING,
            )
        for warning in article_save_warnings(obj):
            self.message_user(request, warning, messages.WARNING)

    @admin.action(description=_("Publish selected articles"), permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        answers = queryset.filter(kind=Article.Kind.SUPPORT_ANSWER).exclude(status=Article.Status.PUBLISHED).count()
        if answers:
            self.message_user(request, SUPPORT_ANSWERS_ELSEWHERE, messages.WARNING)
        articles = list(queryset.exclude(status=Article.Status.PUBLISHED).exclude(kind=Article.Kind.SUPPORT_ANSWER))
        for article in articles:
            article.status = Article.Status.PUBLISHED
            article.published_at = article.published_at or timezone.now()
            article.save(update_fields=["status", "published_at", "updated_at"])
            article_schedule_indexing(article=article)  # a new publication date changes the indexed text
        count = len(articles)
        self.message_user(request, ngettext("%d article published.", "%d articles published.", count) % count)
        scheduled = sum(1 for article in articles if article.scheduled)
        if scheduled:
            self.message_user(
                request,
                ngettext(
                    "%d of them is dated later: customers see it from its date.",
                    "%d of them are dated later: customers see them from their dates.",
                    scheduled,
                )
                % scheduled,
                messages.WARNING,
            )

    @admin.action(description=_("Unpublish selected articles"), permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        count = articles_unpublish(articles=queryset, by=request.user)  # support answers with their curated answers
        self.message_user(request, ngettext("%d article unpublished.", "%d articles unpublished.", count) % count)

    @admin.action(description=_("Re-index selected articles"), permissions=["change"])
    def reindex(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        articles = list(queryset)
        for article in articles:
            article_schedule_indexing(article=article, force=True)
        count = len(articles)
        self.message_user(
            request,
            ngettext("Re-indexing was queued for %d article.", "Re-indexing was queued for %d articles.", count)
            % count,
            messages.SUCCESS,
        )


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(admin.ModelAdmin):
    """Collections are created by migrations and ``manage.py evaluate``; only the name is editable."""

    list_display = ("name", "slug", "article_count", "created_at")
    readonly_fields = ("slug", "created_at")
    fields = ("name", "slug", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[KnowledgeBase]:
        return super().get_queryset(request).annotate(article_count=Count("articles"))

    @admin.display(description=_("articles"), ordering="article_count")
    def article_count(self, kb: KnowledgeBase) -> int:
        return kb.article_count  # type: ignore[attr-defined]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(KnownGap)
class KnownGapAdmin(admin.ModelAdmin):
    """Questions support confirmed no article answers: added from a ticket ("No article answers
    this") or a folder's ``known-gaps.txt``; here staff read and delete them. Deleting one lets
    customers asking alike be answered from an article again (once an article answers it, delete
    its gap)."""

    list_display = ("text", "knowledge_base", "created_by", "created_at")
    list_filter = ("knowledge_base",)
    search_fields = ("text",)
    fields = ("text", "knowledge_base", "created_by", "created_at", "embedding_model")
    readonly_fields = fields
    list_select_related = ("knowledge_base", "created_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # from a ticket, where the embedding is made (support.workflow.ticket_wording_to_gap)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a changed text would keep the old text's embedding: delete it and add it again

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: int) -> HttpResponse:
        """Back to the list after a deletion (Django goes there only for staff who may change)."""
        super().response_delete(request, obj_display, obj_id)  # the success message
        return HttpResponseRedirect(reverse("admin:knowledge_knowngap_changelist"))


class CuratedAnswerForm(forms.ModelForm):
    class Meta:
        model = CuratedAnswer
        fields = ["question", "variants", "answer", "language"]
        widgets = {
            "question": forms.Textarea(attrs={"rows": 2, "cols": 80}),
            "variants": forms.Textarea(attrs={"rows": 3, "cols": 80}),
        }

    def clean_variants(self) -> str:
        """The same limits as an article's *also asked as* lines, which they become."""
        return _aliases_checked(self.cleaned_data.get("variants", ""))

    def clean_answer(self) -> str:
        answer: str = self.cleaned_data["answer"]
        try:
            article_validate_body(answer)
        except ArticleTooLarge:
            raise ValidationError(
                _("The answer has %(count)s characters; the limit is %(limit)s."),
                code="too_large",
                params={"count": f"{len(answer):,}", "limit": f"{settings.ARTICLE_BODY_MAX_CHARS:,}"},
            ) from None
        return answer


@admin.register(CuratedAnswer)
class CuratedAnswerAdmin(admin.ModelAdmin):
    """Content editors review curated answers (from ticket replies) and publish them.

    Publishing (``knowledge.publish_curatedanswer``) writes and indexes the support-answer
    article; unpublishing hides it from retrieval at once. Saving a published one re-syncs it.
    """

    form = CuratedAnswerForm
    list_display = ("short_question", "status", "language", "origin_reference", "created_by", "published_at")
    list_filter = ("status", "language")
    search_fields = ("question", "variants", "answer", "origin_reference")
    list_select_related = ("created_by",)
    readonly_fields = ("status", "origin", "article_state", "created_by", "published_by", "published_at")
    fields = ("status", "question", "variants", "answer", "language", "origin", "article_state", "created_by",
              "published_by", "published_at")  # fmt: skip
    actions = ["publish", "unpublish"]

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("knowledge.publish_curatedanswer")

    def save_model(self, request: HttpRequest, obj: CuratedAnswer, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        if curated_answer_saved(curated_answer=obj, by=request.user):
            self.message_user(request, _("The published support answer was updated; it is re-indexed if needed."))

    def delete_model(self, request: HttpRequest, obj: CuratedAnswer) -> None:
        curated_answer_delete(curated_answer=obj)  # with its support-answer article

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CuratedAnswer]) -> None:
        for curated in queryset:
            curated_answer_delete(curated_answer=curated)

    @admin.action(description=_("Publish selected curated answers"), permissions=["publish"])
    def publish(self, request: HttpRequest, queryset: QuerySet[CuratedAnswer]) -> None:
        selected = list(queryset)
        for curated in selected:
            curated_answer_publish(curated_answer=curated, by=request.user)
        count = len(selected)
        self.message_user(
            request,
            ngettext(
                "%d curated answer published; it is indexed in a moment.",
                "%d curated answers published; they are indexed in a moment.",
                count,
            )
            % count,
        )

    @admin.action(description=_("Unpublish selected curated answers"), permissions=["publish"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[CuratedAnswer]) -> None:
        count = sum(curated_answer_unpublish(curated_answer=c, by=request.user) for c in queryset)
        self.message_user(
            request,
            ngettext("%d curated answer unpublished.", "%d curated answers unpublished.", count) % count,
        )

    @admin.display(description=_("question"))
    def short_question(self, curated: CuratedAnswer) -> str:
        return truncatechars(curated.question, 80)

    @admin.display(description=_("ticket"))
    def origin(self, curated: CuratedAnswer) -> SafeString | str:
        if not curated.origin_reference:
            return "-"
        # By URL name only: knowledge never imports support.
        url = reverse("admin:support_ticket_changelist") + "?" + urlencode({"q": curated.origin_reference})
        return format_html('<a href="{}">{}</a>', url, curated.origin_reference)

    @admin.display(description=_("support answer article"))
    def article_state(self, curated: CuratedAnswer) -> SafeString | str:
        article = curated.article
        if article is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a> · {} · {}',
            reverse("admin:knowledge_article_change", args=[article.pk]),
            article.get_status_display(),
            article.get_index_state_display(),
            article.index_error or "",
        )
