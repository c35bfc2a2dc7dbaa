"""Admin for the knowledge base: declarative, with validation in the form.

Saving an article schedules its indexing (``knowledge.services``); the worker fills the
read-only indexing fields. Chunks are shown read-only: they are derived data.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import truncatechars
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from knowledge.models import Article, Chunk, KnowledgeBase
from knowledge.services import (
    ArticleTooLarge,
    article_schedule_indexing,
    article_validate_body,
    knowledge_base_get_live,
)

INDEXING_FIELDS = (
    "index_state", "index_error", "index_requested_at", "index_started_at", "index_attempts", "indexed_at",
    "embedding_model", "chunk_count",
)  # fmt: skip


class ArticleAdminForm(forms.ModelForm):
    source_url = forms.URLField(label=_("source URL"), max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = Article
        fields = ["knowledge_base", "title", "slug", "language", "status", "published_at", "source_url", "body"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "knowledge_base" in self.fields:
            field = self.fields["knowledge_base"]
            field.required = False
            field.help_text = _("Empty means the live help centre, which customers are answered from.")
            if self.instance.pk is None:
                field.initial = knowledge_base_get_live().pk

    def clean_knowledge_base(self) -> KnowledgeBase:
        return self.cleaned_data.get("knowledge_base") or knowledge_base_get_live()

    def clean_body(self) -> str:
        body: str = self.cleaned_data["body"]
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


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleAdminForm
    list_display = (
        "title", "status", "language", "published_at", "index_state", "chunk_count", "embedding_model", "indexed_at",
    )  # fmt: skip
    list_filter = ("status", "language", "index_state", "knowledge_base")
    search_fields = ("title", "body")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = INDEXING_FIELDS
    date_hierarchy = "published_at"
    inlines = [ChunkInline]
    actions = ["publish", "unpublish", "reindex"]
    fieldsets = (
        (None, {"fields": ("knowledge_base", "title", "slug", "language", "status", "published_at", "source_url")}),
        (_("Body"), {"fields": ("body",)}),
        (_("Indexing details"), {"fields": INDEXING_FIELDS}),
    )

    def save_model(self, request: HttpRequest, obj: Article, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if article_schedule_indexing(article=obj):
            self.message_user(request, _("Indexing was queued; the article will be searchable in a moment."))
        else:
            self.message_user(request, _("The indexed content did not change, so nothing was re-indexed."))

    @admin.action(description=_("Publish selected articles"), permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        articles = list(queryset.exclude(status=Article.Status.PUBLISHED))
        for article in articles:
            article.status = Article.Status.PUBLISHED
            article.published_at = article.published_at or timezone.now()
            article.save(update_fields=["status", "published_at", "updated_at"])
            article_schedule_indexing(article=article)  # a new publication date changes the indexed text
        count = len(articles)
        self.message_user(request, ngettext("%d article published.", "%d articles published.", count) % count)

    @admin.action(description=_("Unpublish selected articles"), permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        # Retrieval filters on status at query time, so this hides them at once.
        count = queryset.filter(status=Article.Status.PUBLISHED).update(
            status=Article.Status.DRAFT, updated_at=timezone.now()
        )
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
