"""Article import from JSON/JSONL records, Markdown files with front matter, and SQuAD v1.1.

:func:`read_records` turns a path into ``ArticleRecord``s and ``RecordError``s (a bad
record never stops the good ones); :func:`articles_import` upserts them by slug within a
knowledge base, so re-running an import updates instead of duplicating.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import slugify

from knowledge.analysis import detect_language
from knowledge.models import TITLE_MAX_LENGTH, Article, KnowledgeBase
from knowledge.services import (
    ArticleTooLarge,
    alias_answers_clean,
    article_schedule_indexing,
    article_validate_aliases,
    article_validate_body,
)


@dataclass(frozen=True)
class ArticleRecord:
    title: str
    body: str
    published_at: datetime | None = None
    url: str = ""
    language: str = "ko"
    slug: str = ""
    status: str = Article.Status.PUBLISHED
    aliases: str = ""  # "also asked as", one per line (Article.aliases)
    alias_answers: dict[str, str] = field(default_factory=dict)  # line -> sentence answering it
    location: str = ""  # where it came from, for messages


@dataclass(frozen=True)
class RecordError:
    location: str  # "line 3", "record 5", "faq.md"
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RecordError] = field(default_factory=list)
    article_ids: list[int] = field(default_factory=list)


def _parse_when(value: Any) -> datetime | None:
    """ISO date or datetime (str/date/datetime) -> aware datetime; ValueError if unreadable."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    text = str(value).strip()
    when = parse_datetime(text)
    if when is None:
        day = parse_date(text)
        if day is None:
            raise ValueError(f"published_at {text!r} is not an ISO date")
        when = datetime(day.year, day.month, day.day)
    return when if timezone.is_aware(when) else timezone.make_aware(when)


def record_from_mapping(data: Any, location: str) -> ArticleRecord:
    """Validate one JSON object / front-matter mapping; raises ValueError with the reason."""
    if not isinstance(data, dict):
        raise ValueError(f"expected an object, got {type(data).__name__}")
    title = str(data.get("title") or "").strip()
    body = str(data.get("body") or "").strip()
    if not title:
        raise ValueError("missing title")
    if not body:
        raise ValueError("missing body")
    article_validate_body(body)
    language = str(data.get("language") or detect_language(title + body[:2000])).strip().lower()
    if language not in Article.Language.values:
        raise ValueError(f"language {language!r} is not one of {', '.join(Article.Language.values)}")
    status = str(data.get("status") or Article.Status.PUBLISHED).strip().lower()
    if status not in Article.Status.values:
        raise ValueError(f"status {status!r} is not one of {', '.join(Article.Status.values)}")
    aliases = data.get("aliases") or ""
    if isinstance(aliases, list):
        aliases = "\n".join(str(a).strip() for a in aliases if str(a).strip())
    elif not isinstance(aliases, str):
        raise ValueError("aliases must be a string or a list of strings")
    article_validate_aliases(aliases)  # ArticleAliasesTooLarge is a ValueError: reported like the others
    alias_answers = alias_answers_clean(aliases, data.get("alias_answers"))  # ValueError: not a mapping
    return ArticleRecord(
        title=title[:TITLE_MAX_LENGTH],
        body=body,
        published_at=_parse_when(data.get("published_at") or data.get("date")),
        url=str(data.get("url") or data.get("source_url") or "").strip(),
        language=language,
        slug=str(data.get("slug") or "").strip(),
        status=status,
        aliases=aliases.strip(),
        alias_answers=alias_answers,
        location=location,
    )


def _collect(items: list[tuple[str, Any]]) -> tuple[list[ArticleRecord], list[RecordError]]:
    records, errors = [], []
    for location, data in items:
        try:
            records.append(record_from_mapping(data, location))
        except (ValueError, ArticleTooLarge) as exc:
            errors.append(RecordError(location, str(exc)))
    return records, errors


def _read_jsonl(path: Path) -> tuple[list[ArticleRecord], list[RecordError]]:
    items: list[tuple[str, Any]] = []
    errors: list[RecordError] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            errors.append(RecordError(f"line {number}", f"invalid JSON: {exc.msg}"))
    records, more = _collect(items)
    return records, errors + more


def squad_records(data: dict[str, Any]) -> tuple[list[ArticleRecord], list[RecordError]]:
    """SQuAD/KorQuAD v1.1: one article per title, its paragraphs' contexts as the body."""
    items: list[tuple[str, Any]] = []
    errors: list[RecordError] = []
    for number, entry in enumerate(data.get("data") or [], 1):
        paragraphs = entry.get("paragraphs") if isinstance(entry, dict) else None
        if not isinstance(paragraphs, list):
            errors.append(RecordError(f"record {number}", "missing the 'paragraphs' list"))
            continue
        body = "\n\n".join(str(p.get("context", "")).strip() for p in paragraphs if isinstance(p, dict))
        items.append((f"record {number}", {"title": entry.get("title"), "body": body}))
    records, more = _collect(items)
    return records, errors + more


def _read_json(path: Path) -> tuple[list[ArticleRecord], list[RecordError]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return [], [RecordError(f"{path.name} line {exc.lineno}", f"invalid JSON: {exc.msg}")]
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        return squad_records(data)
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    if not isinstance(data, list):
        return [], [RecordError(path.name, "expected a list of articles, {'articles': [...]} or SQuAD {'data': [...]}")]
    return _collect([(f"record {i}", item) for i, item in enumerate(data, 1)])


def _read_markdown_folder(path: Path) -> tuple[list[ArticleRecord], list[RecordError]]:
    import frontmatter

    items: list[tuple[str, Any]] = []
    errors: list[RecordError] = []
    for file in sorted(path.rglob("*.md")):
        try:
            post = frontmatter.load(file)
        except Exception as exc:  # YAML errors come in several types
            errors.append(RecordError(file.name, f"bad front matter: {exc}"))
            continue
        meta = dict(post.metadata)
        meta.setdefault("title", file.stem.replace("-", " "))
        meta.setdefault("slug", file.stem)
        items.append((file.name, {**meta, "body": post.content}))
    records, more = _collect(items)
    return records, errors + more


KNOWN_GAPS_FILE = "known-gaps.txt"  # beside a folder's Markdown articles: questions no article answers


def read_known_gaps(path: Path) -> list[str]:
    """The lines of ``path/known-gaps.txt`` when ``path`` is a folder that has one (questions
    support confirmed no article answers, one per line, UTF-8; blank lines and lines starting
    with ``#`` skipped), else ``[]``. See ``knowledge.models.KnownGap``."""
    file = path / KNOWN_GAPS_FILE
    if not path.is_dir() or not file.is_file():
        return []
    lines = (line.strip() for line in file.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def read_records(path: Path) -> tuple[list[ArticleRecord], list[RecordError]]:
    """Read articles from ``path``: a folder of ``*.md``, a ``.jsonl`` file or a ``.json`` file.

    Raises ``FileNotFoundError`` if ``path`` does not exist and ``ValueError`` for an
    unknown file type; per-record problems come back as ``RecordError``s.
    """
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        return _read_markdown_folder(path)
    if path.suffix == ".jsonl":
        return _read_jsonl(path)
    if path.suffix == ".json":
        return _read_json(path)
    if path.suffix == ".md":
        return _read_single_markdown(path)
    raise ValueError(f"{path.name}: unknown format (use .json, .jsonl, .md or a folder of .md files)")


def _read_single_markdown(path: Path) -> tuple[list[ArticleRecord], list[RecordError]]:
    import frontmatter

    try:
        post = frontmatter.load(path)
    except Exception as exc:
        return [], [RecordError(path.name, f"bad front matter: {exc}")]
    meta = {"title": path.stem.replace("-", " "), "slug": path.stem, **post.metadata, "body": post.content}
    return _collect([(path.name, meta)])


def _slug_for(record: ArticleRecord) -> str:
    slug = slugify(record.slug or record.title, allow_unicode=True)[:200]
    return slug or "article"


def articles_import(
    *, records: list[ArticleRecord], knowledge_base: KnowledgeBase, schedule: bool = True
) -> ImportReport:
    """Create or update one article per record (matched by slug within ``knowledge_base``).

    Changed articles are scheduled for indexing after commit when ``schedule`` (the
    evaluation indexes in-process instead). Unchanged records leave their article alone.
    """
    report = ImportReport()
    for record in records:
        slug = _slug_for(record)
        fields = {
            "title": record.title, "body": record.body, "published_at": record.published_at,
            "source_url": record.url, "language": record.language, "status": record.status,
            "aliases": record.aliases, "alias_answers": record.alias_answers,
        }  # fmt: skip
        with transaction.atomic():
            article = Article.objects.select_for_update().filter(knowledge_base=knowledge_base, slug=slug).first()
            if article is None:
                article = Article.objects.create(knowledge_base=knowledge_base, slug=slug, **fields)
                report.created += 1
            elif any(getattr(article, k) != v for k, v in fields.items()):
                for key, value in fields.items():
                    setattr(article, key, value)
                article.save()
                report.updated += 1
            else:
                report.unchanged += 1
            if schedule:
                article_schedule_indexing(article=article)
        report.article_ids.append(article.pk)
    return report
