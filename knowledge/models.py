"""Knowledge base: articles and curated answers written by staff, their chunks, embeddings and lexemes."""

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

LIVE_KNOWLEDGE_BASE = "help-centre"


# An article's title, in characters: the field, the importers and curated answers truncate to it,
# and an *also asked as* line may be as long.
TITLE_MAX_LENGTH = 300


class KnowledgeBase(models.Model):
    """An isolated collection of articles.

    The customer-facing portal answers from the ``help-centre`` collection only;
    ``manage.py evaluate`` builds its own collection per evaluation file, so evaluation
    articles never mix with live ones (every retrieval query filters on the collection).
    """

    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("knowledge base")
        verbose_name_plural = _("knowledge bases")

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    class Language(models.TextChoices):
        KOREAN = "ko", _("Korean")
        ENGLISH = "en", _("English")

    class Kind(models.TextChoices):
        ARTICLE = "article", _("Article")
        SUPPORT_ANSWER = "support_answer", _("Support answer")

    class IndexState(models.TextChoices):
        PENDING = "pending", _("Pending")
        INDEXING = "indexing", _("Indexing")
        INDEXED = "indexed", _("Indexed")
        FAILED = "failed", _("Failed")

    knowledge_base = models.ForeignKey(
        KnowledgeBase, on_delete=models.CASCADE, related_name="articles", verbose_name=_("knowledge base")
    )
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    slug = models.SlugField(_("slug"), max_length=200, allow_unicode=True)
    body = models.TextField(_("body (Markdown)"))
    language = models.CharField(_("language"), max_length=5, choices=Language.choices, default=Language.KOREAN)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(_("published date"), null=True, blank=True)
    source_url = models.URLField(_("source URL"), max_length=500, blank=True)
    # A support answer is the published form of a CuratedAnswer (knowledge.curated): the
    # title is the customer's question, ``aliases`` other ways of asking it (one per line),
    # indexed with the title but never shown. Customers see it cited as "Support answer".
    # Any article may have aliases: staff add its title and headings in the other language
    # so that cross-language questions match it lexically too (README, cross-language).
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.ARTICLE)
    aliases = models.TextField(_("also asked as"), blank=True)
    # An "also asked as" line -> the sentence of the body that answered it, as support taught it
    # (knowledge.services.article_alias_add): the excerpt for a question in that line's words
    # quotes that sentence (support.services.known_answer).
    alias_answers = models.JSONField(_("answers to also-asked-as lines"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    # Indexing bookkeeping, written only by knowledge.services / the worker.
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True, editable=False)
    indexed_hash = models.CharField(_("indexed hash"), max_length=64, blank=True, editable=False)
    index_state = models.CharField(
        _("indexing state"), max_length=10, choices=IndexState.choices, default=IndexState.PENDING, editable=False
    )
    index_error = models.TextField(_("indexing error"), blank=True, editable=False)
    index_requested_at = models.DateTimeField(_("index requested at"), null=True, blank=True, editable=False)
    # The current claim: when a worker started indexing, and how many claims this version has had.
    index_started_at = models.DateTimeField(_("index started at"), null=True, blank=True, editable=False)
    index_attempts = models.PositiveIntegerField(_("index attempts"), default=0, editable=False)
    indexed_at = models.DateTimeField(_("last indexed"), null=True, blank=True, editable=False)
    embedding_model = models.CharField(_("embedding model"), max_length=200, blank=True, editable=False)
    chunk_count = models.PositiveIntegerField(_("chunks"), default=0, editable=False)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = pgettext_lazy("model", "articles")
        ordering = ["-published_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["knowledge_base", "slug"], name="article_unique_slug_per_kb"),
        ]
        indexes = [models.Index(fields=["knowledge_base", "status"]), models.Index(fields=["index_state"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("support:article", kwargs={"slug": self.slug})

    @staticmethod
    def live_q(prefix: str = "") -> models.Q:
        """Published and dated now or earlier (no date: now): what customers see and are answered
        from. A published article dated in the future is scheduled: it appears on its date, with
        no worker involved, since every read filters on this at query time. ``prefix`` reaches
        the article through a relation (``"article__"``)."""
        return models.Q(**{f"{prefix}status": Article.Status.PUBLISHED}) & (
            models.Q(**{f"{prefix}published_at__isnull": True})
            | models.Q(**{f"{prefix}published_at__lte": timezone.now()})
        )

    @staticmethod
    def scheduled_q() -> models.Q:
        """Published with a date still in the future (:attr:`scheduled`, as a query)."""
        return models.Q(status=Article.Status.PUBLISHED, published_at__gt=timezone.now())

    @property
    def scheduled(self) -> bool:
        """Published with a date still in the future: customers don't see it yet."""
        return self.status == Article.Status.PUBLISHED and bool(
            self.published_at and self.published_at > timezone.now()
        )


class ArticleSlugRedirect(models.Model):
    """An address an article had before its slug was changed: ``/articles/<old_slug>/`` sends
    customers on to the article (links in sent reply emails and bookmarks kept working).
    Written by :func:`knowledge.services.article_slug_changed`; an article that takes the
    slug again wins over its redirect."""

    knowledge_base = models.ForeignKey(
        KnowledgeBase, on_delete=models.CASCADE, related_name="+", verbose_name=_("knowledge base")
    )
    old_slug = models.SlugField(_("old slug"), max_length=200, allow_unicode=True)
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="slug_redirects", verbose_name=_("article")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("old article address")
        verbose_name_plural = _("old article addresses")
        constraints = [
            models.UniqueConstraint(fields=["knowledge_base", "old_slug"], name="slug_redirect_unique_per_kb"),
        ]

    def __str__(self) -> str:
        return f"/articles/{self.old_slug}/ → {self.article_id}"


class Chunk(models.Model):
    """A token-bounded slice of an article, with its embedding and Korean-aware lexemes.

    ``embedding`` has no fixed dimension so that a model change can re-embed in place;
    ``embedding_model``/``embedding_dimensions`` say what produced it, and every vector
    search filters on both, so dimensions never mix in one search. The HNSW indexes are
    partial expression indexes per dimension (see migration 0002).
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("article"))
    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="+")
    ordinal = models.PositiveIntegerField(_("ordinal"))
    content = models.TextField(_("content"), help_text="Chunk body as shown to customers (Markdown source).")
    text = models.TextField(_("text"), help_text="What is embedded: title, date and content.")
    token_count = models.PositiveIntegerField(_("token count"))
    lexemes = models.TextField(_("lexemes"), help_text="Space-separated morphemes from the lexical analyser.")
    lexeme_count = models.PositiveIntegerField(_("lexeme count"), default=0)
    search_vector = models.GeneratedField(
        verbose_name=_("search vector"),
        expression=SearchVector("lexemes", config="simple"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    embedding = VectorField(null=True, blank=True)
    embedding_model = models.CharField(_("embedding model"), max_length=200, blank=True)
    embedding_dimensions = models.PositiveIntegerField(_("embedding dimensions"), null=True, blank=True)
    # Sentence-level evidence for the extractive answerer: the plain-text sentences of
    # ``content`` (knowledge.chunking.plain_sentences) and their embeddings, float16,
    # row-major (len(sentences) × embedding_dimensions). Empty when SENTENCE_EMBEDDINGS is off.
    sentences = models.JSONField(_("sentences"), default=list, blank=True)
    sentence_vectors = models.BinaryField(_("sentence vectors"), default=b"", blank=True)
    # The article's title and "also asked as" lines embedded as queries (E5's symmetric
    # use), float16 like sentence_vectors: question-to-question evidence for retrieval
    # (knowledge.selectors.alias_rerank). The same rows on every chunk of the article.
    alias_vectors = models.BinaryField(_("alias vectors"), default=b"", blank=True)

    class Meta:
        verbose_name = _("chunk")
        verbose_name_plural = _("chunks")
        ordering = ["article_id", "ordinal"]
        constraints = [models.UniqueConstraint(fields=["article", "ordinal"], name="chunk_unique_ordinal")]
        indexes = [GinIndex(fields=["search_vector"], name="chunk_search_vector_gin")]

    def __str__(self) -> str:
        # staff read it in admin (a deletion's summary): "12#0" meant nothing, in Korean too
        return gettext("part %(number)d of article %(article)d") % {
            "number": self.ordinal + 1,
            "article": self.article_id,
        }


class KnownGap(models.Model):
    """A question support confirmed no article answers (a content gap), remembered so that a
    customer who asks alike is escalated at once instead of answered from a near-topic article.

    Added from a ticket (*Teach the help centre* → "No article answers this",
    ``support.workflow.ticket_wording_to_gap``), from a folder's ``known-gaps.txt`` by
    ``manage.py import_articles``, and by the evaluation's learning loop
    (``knowledge.services.known_gap_add``). ``text`` is one line, markup removed, as an *also
    asked as* line; ``embedding`` is that line embedded as a query by ``embedding_model`` when
    it was saved, and answering compares only the gaps of the model in use
    (``knowledge.selectors.known_gap_nearest``).
    """

    knowledge_base = models.ForeignKey(
        KnowledgeBase, on_delete=models.CASCADE, related_name="known_gaps", verbose_name=_("knowledge base")
    )
    text = models.CharField(_("question"), max_length=TITLE_MAX_LENGTH)
    embedding = VectorField()
    embedding_model = models.CharField(_("embedding model"), max_length=200)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("created by"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("known gap")
        verbose_name_plural = _("known gaps")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(Lower("text"), "knowledge_base", name="known_gap_unique_text"),
        ]

    def __str__(self) -> str:
        return self.text


class CuratedAnswer(models.Model):
    """A question–answer pair reviewed by staff, usually born from a ticket reply.

    Created in *draft* (``knowledge.curated.curated_answer_create``); a content editor
    publishes it (``curated_answer_publish``), which writes its ``article`` (kind
    ``support_answer``, title = the question) so indexing and retrieval treat it like any
    article; unpublishing hides that article from retrieval at once. ``origin_reference``
    names the ticket it came from (a reference, so ``knowledge`` never imports ``support``).
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    question = models.TextField(_("question as asked"))
    variants = models.TextField(_("other ways to ask it"), blank=True, help_text=_("One per line (optional)."))
    answer = models.TextField(_("answer"))
    language = models.CharField(_("language"), max_length=5, choices=Article.Language.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    article = models.OneToOneField(
        Article,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="curated_answer",
        editable=False,
        verbose_name=_("article"),
    )
    origin_reference = models.CharField(_("ticket"), max_length=20, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("published by"),
    )
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("curated answer")
        verbose_name_plural = _("curated answers")
        permissions = [("publish_curatedanswer", _("Can publish and unpublish curated answers"))]

    def __str__(self) -> str:
        return self.question[:80]

    def variant_list(self) -> list[str]:
        """``variants`` as a list, blank lines dropped."""
        return [line.strip() for line in self.variants.splitlines() if line.strip()]
