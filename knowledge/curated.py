"""Writes: curated answers — staff-reviewed question–answer pairs that become searchable knowledge.

Lifecycle: ``curated_answer_create`` (draft, usually from a ticket reply) → a content
editor reviews and ``curated_answer_publish`` → its support-answer ``Article`` is
published and indexed by the worker like any article → ``curated_answer_unpublish``
hides it from retrieval at once (retrieval filters on the article's status at query time);
``curated_answer_delete`` removes it with its article (and the article's chunks).
"""

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from knowledge.models import TITLE_MAX_LENGTH, Article, CuratedAnswer
from knowledge.services import (
    ArticleAliasesTooLarge,
    article_schedule_indexing,
    article_validate_aliases,
    article_validate_body,
    knowledge_base_get_live,
)


class CuratedAnswerInvalid(ValueError):
    """The curated answer can't be saved as given; the message says why."""


def _clean_variants(variants: Iterable[str] | str) -> str:
    lines = variants.splitlines() if isinstance(variants, str) else list(variants)
    kept = list(dict.fromkeys(line.strip() for line in lines if line.strip()))
    try:  # they become the support answer's "also asked as" lines: the same limits as an article's
        article_validate_aliases("\n".join(kept))
    except ArticleAliasesTooLarge as exc:
        raise CuratedAnswerInvalid(str(exc)) from exc
    return "\n".join(kept)


def curated_answer_create(
    *,
    question: str,
    answer: str,
    language: str,
    variants: Iterable[str] | str = (),
    origin_reference: str = "",
    by: Any | None = None,
) -> CuratedAnswer:
    """A new curated answer in *draft*, for a content editor to review.

    ``language`` outside ``Article.Language`` falls back to Korean. Raises
    ``CuratedAnswerInvalid`` for an empty question or answer, or an over-long answer
    (``ARTICLE_BODY_MAX_CHARS``) or variants past the *also asked as* limits they become
    (``knowledge.services.article_validate_aliases``: lines and characters per line).
    """
    question, answer = (question or "").strip(), (answer or "").strip()
    if not question or not answer:
        raise CuratedAnswerInvalid("A curated answer needs both the question and the answer.")
    try:
        article_validate_body(answer)
    except ValueError as exc:
        raise CuratedAnswerInvalid(str(exc)) from exc
    if language not in Article.Language.values:
        language = Article.Language.KOREAN
    return CuratedAnswer.objects.create(
        question=question, answer=answer, language=language, variants=_clean_variants(variants),
        origin_reference=origin_reference, created_by=by,
    )  # fmt: skip


def _article_fields(curated: CuratedAnswer) -> dict[str, Any]:
    title = curated.question
    if len(title) > TITLE_MAX_LENGTH:
        title = title[: TITLE_MAX_LENGTH - 1] + "…"
    aliases = curated.variants
    if title != curated.question:  # the whole question stays searchable
        aliases = "\n".join(filter(None, [curated.question, aliases]))
    return {"title": title, "aliases": aliases, "body": curated.answer, "language": curated.language}


@transaction.atomic
def curated_answer_publish(*, curated_answer: CuratedAnswer, by: Any | None = None) -> Article:
    """Publish ``curated_answer``: create or update its support-answer article (published, in
    the live knowledge base, slug ``support-answer-<id>``) and schedule its indexing on
    commit. Publishing again after an edit re-syncs the article. Returns the article."""
    curated = CuratedAnswer.objects.select_for_update().get(pk=curated_answer.pk)
    fields = _article_fields(curated)
    now = timezone.now()
    article = curated.article
    if article is None:
        article = Article.objects.create(
            knowledge_base=knowledge_base_get_live(), slug=f"support-answer-{curated.pk}",
            kind=Article.Kind.SUPPORT_ANSWER, status=Article.Status.PUBLISHED, published_at=now, **fields,
        )  # fmt: skip
    else:
        for name, value in fields.items():
            setattr(article, name, value)
        article.status, article.published_at = Article.Status.PUBLISHED, article.published_at or now
        article.save()
    CuratedAnswer.objects.filter(pk=curated.pk).update(
        status=CuratedAnswer.Status.PUBLISHED, article=article, published_by=by, published_at=now, updated_at=now
    )
    article_schedule_indexing(article=article)
    curated_answer.refresh_from_db()
    return article


@transaction.atomic
def curated_answer_unpublish(*, curated_answer: CuratedAnswer, by: Any | None = None) -> bool:
    """Back to draft; its article is unpublished, so retrieval stops finding it at once.
    Returns False if it was not published."""
    curated = CuratedAnswer.objects.select_for_update().get(pk=curated_answer.pk)
    if curated.status != CuratedAnswer.Status.PUBLISHED:
        return False
    CuratedAnswer.objects.filter(pk=curated.pk).update(status=CuratedAnswer.Status.DRAFT, updated_at=timezone.now())
    if curated.article_id is not None:
        Article.objects.filter(pk=curated.article_id).update(status=Article.Status.DRAFT, updated_at=timezone.now())
    curated_answer.refresh_from_db()
    return True


@transaction.atomic
def articles_unpublish(*, articles: "QuerySet[Article]", by: Any | None = None) -> int:
    """Back to draft: every published article of ``articles``; a support answer together with its
    curated answer (so the two never disagree), and one without a curated answer, or whose
    curated answer is already a draft, on its own. Retrieval filters on status at query time,
    so they are hidden at once. Returns how many articles were unpublished."""
    published = articles.filter(status=Article.Status.PUBLISHED)
    for curated in CuratedAnswer.objects.filter(article__in=published, status=CuratedAnswer.Status.PUBLISHED):
        curated_answer_unpublish(curated_answer=curated, by=by)
    ids = list(published.values_list("pk", flat=True))
    Article.objects.filter(pk__in=ids, status=Article.Status.PUBLISHED).update(
        status=Article.Status.DRAFT, updated_at=timezone.now()
    )
    return len(ids)


@transaction.atomic
def curated_answer_delete(*, curated_answer: CuratedAnswer) -> None:
    """Delete ``curated_answer`` and its support-answer article, whose chunks go with it
    (cascade), so customers stop being answered from it at once. Deleting the curated answer
    alone had left its article published and cited at confidence 1.0, with no curated answer
    left to unpublish it from (thirteenth session)."""
    article_id = curated_answer.article_id
    curated_answer.delete()
    if article_id is not None:
        Article.objects.filter(pk=article_id, kind=Article.Kind.SUPPORT_ANSWER).delete()


def curated_answer_saved(*, curated_answer: CuratedAnswer, by: Any | None = None) -> bool:
    """After an editor changed a curated answer: a published one re-syncs its article
    (and is re-indexed if the indexed text changed). Returns whether it was published."""
    if curated_answer.status != CuratedAnswer.Status.PUBLISHED:
        return False
    curated_answer_publish(curated_answer=curated_answer, by=by)
    return True
