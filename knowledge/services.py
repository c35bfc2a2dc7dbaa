"""Writes: saving articles, scheduling and running their indexing.

Indexing is ``chunk -> analyse (Kiwi) -> embed -> replace the article's chunks``, run by
a Celery worker (``tasks.knowledge.index_article``) after the saving transaction commits.
The content hash makes it idempotent: a task for an article whose indexed hash and
embedding model already match does nothing, so running it twice leaves the same state.
A worker claims an article (one version of it) with a conditional UPDATE before
embedding, so two deliveries of one task embed once and an older version's task never
overwrites a newer one; a claim whose worker died is taken over after
``INDEX_CLAIM_TIMEOUT_SECONDS``, at most ``INDEX_MAX_ATTEMPTS`` times.
"""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext

from knowledge.analysis import ANALYSIS_VERSION, analyse, standard_text
from knowledge.chunking import SENTENCES_VERSION, chunk_text, plain_sentences, strip_html
from knowledge.embeddings import EmbeddingError, EmbeddingProvider, get_provider
from knowledge.models import (
    LIVE_KNOWLEDGE_BASE,
    TITLE_MAX_LENGTH,
    Article,
    ArticleSlugRedirect,
    Chunk,
    KnowledgeBase,
    KnownGap,
)
from knowledge.tokens import chunk_encoding, count_tokens, truncate_tokens

ProgressCallback = Callable[[int, int], None]  # (done, total) embedded chunks


class ArticleTooLarge(ValueError):
    pass


# In the content hash while alias vectors are read: turning them on re-indexes. 2: each line
# embedded with its abbreviations written out (knowledge.analysis.standard_text), as a question
# is: the line "비번 까먹었어요" had been 0.90 from the same question, which is embedded as
# "비밀번호 까먹었어요".
ALIAS_VECTORS_VERSION = "2"


def article_alias_lines(article: Article) -> list[str]:
    """The article's title, then each non-blank *also asked as* line: what :func:`_embed_aliases` embeds."""
    return [article.title, *(line.strip() for line in (article.aliases or "").splitlines() if line.strip())]


def known_wordings_read() -> bool:
    """Whether the confidence gate reads a question's cosines to its articles' titles and *also
    asked as* lines and to the known gaps (``support.confidence.known_wording_confidence``): the
    known-gap checks (``KNOWN_GAP_MARGIN`` ≥ 0, ``KNOWN_GAP_SAME`` > 0), the known-wording one
    (``KNOWN_WORDING_SIMILARITY`` > 0) or the lead between them (``KNOWN_WORDING_LEAD_WEIGHT`` ≠ 0)."""
    return (
        settings.KNOWN_GAP_MARGIN >= 0
        or settings.KNOWN_GAP_SAME > 0
        or settings.KNOWN_WORDING_SIMILARITY > 0
        or bool(settings.KNOWN_WORDING_LEAD_WEIGHT)
    )


def alias_vectors_read() -> bool:
    """Whether anything reads an ordinary article's alias vectors: retrieval's re-ranking
    (``RETRIEVAL_ALIAS_WEIGHT``) or the confidence gate (:func:`known_wordings_read`), which
    compare a question with the titles and *also asked as* lines of the articles retrieved for it."""
    return bool(settings.RETRIEVAL_ALIAS_WEIGHT) or known_wordings_read()


def article_content_hash(article: Article) -> str:
    """SHA-256 over what gets indexed (title, date, body without raw HTML, aliases) plus the chunking
    settings, tokenizer, sentence splitting and lexical analysis versions, the title's weight in the
    lexical terms and (while :func:`alias_vectors_read`) the alias-vector version. The body
    counts as :func:`knowledge.chunking.strip_html` leaves it: a body without HTML keeps the hash
    it had before HTML was stripped, so its index is reused."""
    date = article.published_at.date().isoformat() if article.published_at else ""
    material = "\x1f".join(
        [
            article.title, date, strip_html(article.body),
            str(settings.CHUNK_TOKENS), str(settings.CHUNK_OVERLAP_TOKENS), settings.CHUNK_TOKENIZER,
            f"sentences-{SENTENCES_VERSION}" if settings.SENTENCE_EMBEDDINGS else "",
            f"analysis-{ANALYSIS_VERSION}", f"title-weight-{settings.LEXICAL_TITLE_WEIGHT}",
            f"aliases:{article.aliases}",
            f"alias-vectors-{ALIAS_VECTORS_VERSION}"
            if alias_vectors_read() or article.kind == Article.Kind.SUPPORT_ANSWER
            else "",
        ]
    )  # fmt: skip
    return hashlib.sha256(material.encode()).hexdigest()


def article_validate_body(body: str) -> None:
    """Raise ``ArticleTooLarge`` when ``body`` exceeds ``ARTICLE_BODY_MAX_CHARS``."""
    if len(body) > settings.ARTICLE_BODY_MAX_CHARS:
        raise ArticleTooLarge(
            f"The body has {len(body):,} characters; the limit is {settings.ARTICLE_BODY_MAX_CHARS:,}. "
            "Split it into several articles."
        )


ALIASES_MAX_LINES = 30  # "also asked as" lines: each is embedded and repeated in every chunk's lexical terms
ALIAS_MAX_CHARS = TITLE_MAX_LENGTH  # one line, as long as a title may be


class ArticleAliasesTooLarge(ValueError):
    """Too many *also asked as* lines, or one too long; the message says which limit."""

    def __init__(self, message: str, *, lines: int = 0, longest: int = 0) -> None:
        super().__init__(message)
        self.lines, self.longest = lines, longest


def article_validate_aliases(aliases: str) -> None:
    """Raise ``ArticleAliasesTooLarge`` past ``ALIASES_MAX_LINES`` non-empty lines or a line past
    ``ALIAS_MAX_CHARS``. Aliases bypassed the body's size limit: 2,000 lines (57,000 characters)
    on a one-line article were accepted and took the indexing worker 55 s."""
    lines = [line for line in (aliases or "").splitlines() if line.strip()]
    longest = max((len(line.strip()) for line in lines), default=0)
    if len(lines) > ALIASES_MAX_LINES or longest > ALIAS_MAX_CHARS:
        raise ArticleAliasesTooLarge(
            f"At most {ALIASES_MAX_LINES} lines of at most {ALIAS_MAX_CHARS} characters; "
            f"found {len(lines)} line(s), the longest {longest} characters.",
            lines=len(lines), longest=longest,
        )  # fmt: skip


ARTICLE_ANSWER_MAX_CHARS = 1000  # one sentence of an article, as an "also asked as" line's answer


def alias_answers_clean(aliases: str, answers: Any) -> dict[str, str]:
    """``answers`` (an *also asked as* line → the sentence of the article that answers it,
    ``Article.alias_answers``) kept only for lines that ``aliases`` still holds (compared
    space-insensitively), each sentence made one line of at most ``ARTICLE_ANSWER_MAX_CHARS``
    characters. Raises ``ValueError`` when ``answers`` is not a mapping of text to text (a
    hand-edited front matter or admin field)."""
    if not answers:
        return {}
    if not isinstance(answers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in answers.items()):
        raise ValueError("alias_answers must map each also-asked-as line to the sentence that answers it")
    lines = {" ".join(line.split()): line.strip() for line in (aliases or "").splitlines() if line.strip()}
    kept = {}
    for line, sentence in answers.items():
        sentence = " ".join(sentence.split())[:ARTICLE_ANSWER_MAX_CHARS]
        if sentence and (own := lines.get(" ".join(line.split()))):
            kept[own] = sentence
    return kept


def article_sentences(article_ids: Sequence[int]) -> list[str]:
    """The distinct indexed sentences of the articles ``article_ids`` (their chunks'
    ``sentences``), article by article in the order given, each article's in its order; a
    sentence two overlapping chunks share counts once. An article not indexed yet has none."""
    rows = Chunk.objects.filter(article_id__in=article_ids).order_by("ordinal").values_list("article_id", "sentences")
    by_article: dict[int, list[str]] = {}
    for article_id, sentences in rows:
        by_article.setdefault(article_id, []).extend(str(s) for s in sentences or [])
    return list(dict.fromkeys(s for pk in article_ids for s in by_article.get(pk, [])))


def article_sentences_with(article: Article, text: str) -> list[str]:
    """The distinct indexed sentences of ``article`` (:func:`article_sentences`) that hold
    ``text`` (verbatim, or after case and white space are folded); [] for blank ``text``: what
    support quoted when answering a ticket, for :func:`article_alias_add`'s ``answer``."""
    wanted = " ".join((text or "").split()).casefold()
    if not wanted:
        return []
    return [s for s in article_sentences([article.pk]) if wanted in " ".join(s.split()).casefold()]


class AliasRejected(ValueError):
    """An *also asked as* line that :func:`article_alias_add` does not add; the message says why."""


def alias_line(text: str) -> str:
    """``text`` (a customer's question, as typed) as one *also asked as* line: raw HTML removed
    as from article bodies (:func:`knowledge.chunking.strip_html`, each removed piece read as a
    space), all whitespace, line breaks too, made single spaces, and cut at a word boundary to
    ``ALIAS_MAX_CHARS`` characters. "" when nothing is left."""
    line = " ".join(strip_html(text or "", separator=" ").split())
    if len(line) > ALIAS_MAX_CHARS:
        cut = line[:ALIAS_MAX_CHARS]
        line = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return line


def aliases_with_line(aliases: str, text: str, *, title: str = "") -> tuple[str, str]:
    """``(aliases with text's line appended, the line)``: ``aliases`` (an article's *also asked
    as* lines, one per line; blank lines dropped) and ``text`` made one line by :func:`alias_line`.
    ``title`` names the article in the messages. Raises ``AliasRejected`` with a message for
    staff when the line is blank, already there (compared case- and space-insensitively) or
    the article already holds ``ALIASES_MAX_LINES`` lines."""
    line = alias_line(text)
    if not line:
        raise AliasRejected(gettext("The line to add is empty."))
    lines = [existing.strip() for existing in (aliases or "").splitlines() if existing.strip()]
    if line.casefold() in {" ".join(existing.split()).casefold() for existing in lines}:
        raise AliasRejected(gettext("“%(title)s” already has this line.") % {"title": title})
    if len(lines) >= ALIASES_MAX_LINES:
        raise AliasRejected(
            gettext("“%(title)s” already has %(count)d “also asked as” lines; edit them in the article first.")
            % {"title": title, "count": ALIASES_MAX_LINES}
        )
    return "\n".join([*lines, line]), line


@transaction.atomic
def article_alias_add(*, article_id: int, text: str, answer: str = "") -> Article:
    """Add ``text`` to the article's *also asked as* lines (:func:`aliases_with_line`), with
    ``answer`` (the sentence of the article that answers it, :func:`article_sentences_with`; ""
    for none) in its ``alias_answers``, and schedule its re-indexing on commit: the wording of a
    customer whose question an existing article answers, so that the next customer asking that
    way finds the article (the learning loop a support agent closes from an escalated ticket;
    README, *Answer quality*, measured with ``evaluate --learn-from``). The article row is
    locked, so two agents adding lines at once both keep theirs. Returns the article.

    Raises ``Article.DoesNotExist``, and ``AliasRejected`` (message for staff) as
    :func:`aliases_with_line` does, and for a support answer: its wording is edited in its
    curated answer, which republishing would restore.
    """
    article = Article.objects.select_for_update().get(pk=article_id)
    if article.kind == Article.Kind.SUPPORT_ANSWER:
        raise AliasRejected(gettext("A support answer's wording is edited in its curated answer."))
    article.aliases, line = aliases_with_line(article.aliases, text, title=article.title)
    if answer.strip():
        article.alias_answers = alias_answers_clean(article.aliases, {**(article.alias_answers or {}), line: answer})
    article.save(update_fields=["aliases", "alias_answers", "updated_at"])
    article_schedule_indexing(article=article)
    return article


class KnownGapRejected(ValueError):
    """A wording :func:`known_gap_add` does not remember; the message (for staff) says why."""


def _gap_vector(line: str, provider: EmbeddingProvider) -> list[float]:
    try:
        return provider.embed_query(standard_text(line))  # as questions are embedded
    except EmbeddingError as exc:
        raise KnownGapRejected(
            gettext("The wording could not be remembered now (%(error)s); try again.") % {"error": exc}
        ) from exc


def known_gap_add(
    *, knowledge_base: KnowledgeBase, text: str, created_by: Any = None, provider: EmbeddingProvider | None = None
) -> KnownGap:
    """Remember ``text`` (a customer's question, as typed) as a question no article of
    ``knowledge_base`` answers: one line as :func:`alias_line` makes it, embedded as a query by
    ``provider`` (default: the one in use) right away. A gap wording is as short as a customer's
    question, whose embedding every answer computes in its request too (tens of ms locally).

    From then on a customer whose question is nearer to a known gap than to any wording of the
    articles retrieved for it is escalated at once (``support.services``, ``KNOWN_GAP_MARGIN``;
    README, *Answer quality*, *Twenty-fourth session*). Raises ``KnownGapRejected`` (message for
    staff) when the line is blank, already a known gap of the collection (case-insensitively,
    also when another agent saved it a moment before: the unique constraint), or cannot be
    embedded now (``EmbeddingError``: nothing is stored, so the agent can retry).
    """
    line = alias_line(text)
    if not line:
        raise KnownGapRejected(gettext("The wording to remember is empty."))
    known = KnownGapRejected(gettext("“%(line)s” is already a known gap.") % {"line": line})
    if KnownGap.objects.filter(knowledge_base=knowledge_base, text__iexact=line).exists():
        raise known
    provider = provider or get_provider()
    vector = _gap_vector(line, provider)
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives the duplicate
            return KnownGap.objects.create(
                knowledge_base=knowledge_base, text=line, embedding=vector, embedding_model=provider.name,
                created_by=created_by,
            )  # fmt: skip
    except IntegrityError as exc:
        raise known from exc


def known_gaps_add_lines(
    *, knowledge_base: KnowledgeBase, lines: list[str], provider: EmbeddingProvider
) -> tuple[int, list[str]]:
    """Add each of ``lines`` that is not yet a known gap of ``knowledge_base`` (compared as
    :func:`alias_line` makes them, case-insensitively) with :func:`known_gap_add`; a gap of the
    same text embedded by another model is embedded again in place (after an embedding model
    change). Returns ``(how many were added or re-embedded, the refused lines' messages)``: a
    blank line or an embedding failure refuses that line only."""
    have = {gap.text.casefold(): gap for gap in KnownGap.objects.filter(knowledge_base=knowledge_base)}
    done, refused = 0, []
    for line in dict.fromkeys(lines):
        old = have.get(alias_line(line).casefold())
        if old is not None and old.embedding_model == provider.name:
            continue
        try:
            if old is None:
                have[alias_line(line).casefold()] = known_gap_add(
                    knowledge_base=knowledge_base, text=line, provider=provider
                )
            else:
                old.embedding, old.embedding_model = _gap_vector(old.text, provider), provider.name
                old.save(update_fields=["embedding", "embedding_model"])
        except KnownGapRejected as exc:
            refused.append(f"{line!r}: {exc}")
            continue
        done += 1
    return done, refused


def known_gaps_sync(*, knowledge_base: KnowledgeBase, lines: list[str], provider: EmbeddingProvider) -> int:
    """Make ``knowledge_base``'s known gaps exactly ``lines`` (:func:`known_gaps_add_lines` after
    deleting the gaps not among them; blank lines dropped). Returns how many were added or re-embedded. For the
    evaluation's isolated collections, rebuilt from a folder's ``known-gaps.txt`` on every run;
    raises ``KnownGapRejected`` when a line cannot be added (a collection missing a gap would
    give misleading figures)."""
    lines = [line for line in lines if alias_line(line)]  # a line of markup alone says nothing
    wanted = {alias_line(line).casefold() for line in lines}
    gaps = KnownGap.objects.filter(knowledge_base=knowledge_base)
    gaps.filter(pk__in=[pk for pk, text in gaps.values_list("pk", "text") if text.casefold() not in wanted]).delete()
    done, refused = known_gaps_add_lines(knowledge_base=knowledge_base, lines=lines, provider=provider)
    if refused:
        raise KnownGapRejected(f"known gaps not added: {'; '.join(refused)}")
    return done


def article_needs_indexing(article: Article, provider_name: str) -> bool:
    return not (
        article.index_state == Article.IndexState.INDEXED
        and article.indexed_hash == article_content_hash(article)
        and article.embedding_model == provider_name
    )


@transaction.atomic
def article_slug_changed(*, article: Article, old_slug: str) -> None:
    """Keep ``/articles/<old_slug>/`` leading to ``article`` after its slug changed (reply
    emails and bookmarks carry the old address; it had become a 404). The article's earlier
    addresses keep leading to it; its new slug stops being anyone's redirect."""
    if not old_slug or old_slug == article.slug:
        return
    ArticleSlugRedirect.objects.filter(knowledge_base_id=article.knowledge_base_id, old_slug=article.slug).delete()
    ArticleSlugRedirect.objects.update_or_create(
        knowledge_base_id=article.knowledge_base_id, old_slug=old_slug, defaults={"article": article}
    )


def article_schedule_indexing(*, article: Article, force: bool = False) -> bool:
    """Mark ``article`` pending and enqueue its indexing once the transaction commits.

    Does nothing (returns False) when the content hash and embedding model are what was
    last indexed, unless ``force``. The new version starts with a fresh attempt budget.
    If the broker is down, the article stays pending and the indexing sweeper
    (``tasks.maintenance.sweep_indexing``) enqueues it once Redis is back.
    """
    article.content_hash = article_content_hash(article)
    if not force and not article_needs_indexing(article, get_provider().name):
        Article.objects.filter(pk=article.pk).update(content_hash=article.content_hash)
        return False
    now = timezone.now()
    Article.objects.filter(pk=article.pk).update(
        content_hash=article.content_hash,
        index_state=Article.IndexState.PENDING,
        index_requested_at=now,
        index_attempts=0,
        index_error="",
    )
    article.index_state, article.index_requested_at = Article.IndexState.PENDING, now
    article_id, content_hash, draft = article.pk, article.content_hash, article.status != Article.Status.PUBLISHED
    large = article_is_large(len(article.body))
    transaction.on_commit(lambda: enqueue_indexing(article_id, content_hash, draft=draft, large=large))
    return True


def articles_mark_for_reindexing(*, article_ids: list[int]) -> int:
    """Mark articles ``pending`` with a fresh attempt budget, enqueueing nothing (the caller
    indexes them, e.g. ``manage.py benchmark``). Returns how many rows were marked."""
    return Article.objects.filter(pk__in=article_ids).update(
        index_state=Article.IndexState.PENDING, index_attempts=0, index_error=""
    )


def article_is_large(length: int) -> bool:
    """True when an article of ``length`` characters (body) is indexed on the
    ``INDEX_LARGE_QUEUE``: over ``INDEX_LARGE_ARTICLE_CHARS`` (20,000 by default, about
    20–40 s of embedding on two cores; 187,000 characters took 217 s, fifteenth session)."""
    return length > settings.INDEX_LARGE_ARTICLE_CHARS


def enqueue_indexing(
    article_id: int, content_hash: str | None = None, *, draft: bool = False, large: bool = False
) -> None:
    """Send the indexing task; a broker failure leaves the article pending (see ``tasks.enqueue``).

    A draft's indexing goes in at ``tasks.LOW_PRIORITY``: customers can't be answered from it
    yet, and two 200,000-character drafts (≈ 5 minutes each) had held a newly published
    article back for 8 minutes. A published article's goes first. A ``large`` article
    (:func:`article_is_large`) goes to its own queue, ``INDEX_LARGE_QUEUE``, with its own
    worker: a 100-character article saved while a 187,000-character one was being embedded
    had waited 165 s behind it.
    """
    from tasks import LOW_PRIORITY, enqueue
    from tasks.knowledge import index_article

    args = (article_id,) if content_hash is None else (article_id, content_hash)
    queue = settings.INDEX_LARGE_QUEUE if large else None
    enqueue(index_article, *args, priority=LOW_PRIORITY if draft else None, queue=queue)


def article_claim_indexing(*, article_id: int, content_hash: str) -> datetime | None:
    """Claim version ``content_hash`` of an article for indexing; returns the claim's time or None.

    One conditional UPDATE: the article must still be at that version, have attempts
    left (``INDEX_MAX_ATTEMPTS``) and be ``pending``/``failed`` or hold an ``indexing``
    claim older than ``INDEX_CLAIM_TIMEOUT_SECONDS`` (its worker died). So of two
    deliveries of one task only one embeds, and a task for an older version claims
    nothing. Each claim counts an attempt; the returned time identifies the claim.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.INDEX_CLAIM_TIMEOUT_SECONDS)
    claimed = Article.objects.filter(
        Q(index_state__in=[Article.IndexState.PENDING, Article.IndexState.FAILED])
        | Q(index_state=Article.IndexState.INDEXING, index_started_at__lt=stale),
        pk=article_id,
        content_hash=content_hash,
        index_attempts__lt=settings.INDEX_MAX_ATTEMPTS,
    ).update(
        index_state=Article.IndexState.INDEXING,
        index_started_at=now,
        index_attempts=F("index_attempts") + 1,
        index_error="",
    )
    return now if claimed else None


def articles_give_up_exhausted(*, article_id: int | None = None) -> int:
    """Mark ``failed`` the articles whose indexing was claimed ``INDEX_MAX_ATTEMPTS`` times
    without finishing (the process died each time: out of memory, a hard time limit).

    Only rows that would otherwise be retried: ``pending``, or ``indexing`` with a dead
    claim. Returns how many were marked.
    """
    stale = timezone.now() - timedelta(seconds=settings.INDEX_CLAIM_TIMEOUT_SECONDS)
    rows = Article.objects.filter(
        Q(index_state=Article.IndexState.PENDING)
        | Q(index_state=Article.IndexState.INDEXING, index_started_at__lt=stale),
        index_attempts__gte=settings.INDEX_MAX_ATTEMPTS,
    )
    if article_id is not None:
        rows = rows.filter(pk=article_id)
    return rows.update(
        index_state=Article.IndexState.FAILED,
        index_error=(
            f"Gave up after {settings.INDEX_MAX_ATTEMPTS} indexing attempts that never finished: the worker "
            "process died each time (out of memory or the hard time limit?). Split the article, then save it."
        ),
    )


@dataclass(frozen=True)
class ChunkBuild:
    content: str
    text: str
    token_count: int
    lexemes: list[str]
    sentences: list[str]


def sentence_vectors_pack(vectors: list[list[float]]) -> bytes:
    """Sentence embeddings as ``Chunk.sentence_vectors`` stores them: float16, row-major."""
    return np.asarray(vectors, dtype=np.float16).tobytes() if vectors else b""


def sentence_vectors_unpack(blob: bytes, dimensions: int) -> np.ndarray:
    """``(n, dimensions)`` float32 array from :func:`sentence_vectors_pack` bytes (n = 0 for none)."""
    if not blob or not dimensions:
        return np.zeros((0, max(dimensions, 0)), dtype=np.float32)
    return np.frombuffer(bytes(blob), dtype=np.float16).reshape(-1, dimensions).astype(np.float32)


class _Superseded(Exception):
    """The article was saved again (or its claim taken over) while this run was embedding it."""


def _embed_sentences(
    builds: list["ChunkBuild"], title: str, provider: EmbeddingProvider, between: Callable[[], None] = lambda: None
) -> list[list[list[float]]]:
    """Per chunk, the embeddings of its sentences (prefixed with the article title, as context);
    ``between`` runs after each batch (it raises to stop)."""
    if not settings.SENTENCE_EMBEDDINGS:
        return [[] for _ in builds]
    flat = [f"{title}: {s}" for b in builds for s in b.sentences]
    vectors: list[list[float]] = []
    batch = max(1, settings.EMBEDDING_BATCH_SIZE) * 4  # sentences are short
    for start in range(0, len(flat), batch):
        vectors.extend(provider.embed_passages(flat[start : start + batch]))
        between()
    out, at = [], 0
    for b in builds:
        out.append(vectors[at : at + len(b.sentences)])
        at += len(b.sentences)
    return out


def _embed_aliases(article: Article, provider: EmbeddingProvider) -> list[list[float]]:
    """The title and *also asked as* lines embedded as queries, one vector per line
    (:func:`article_alias_lines`), with their abbreviations written out as a question's are
    (``knowledge.selectors.embed_question``): customers' questions are compared with them as
    with other questions. A support answer's always (retrieval keeps one only for questions like
    its own: ``knowledge.selectors.support_answer_fits``). Others' none while nothing reads them
    (:func:`alias_vectors_read`), and none for an article without
    *also asked as* lines: a title alone is often a name, not a question (KorQuAD's Wikipedia
    titles; with them, recall@1 fell 96.8 → 95.6 %)."""
    lines = [standard_text(line) for line in article_alias_lines(article)]  # as questions are embedded
    if article.kind == Article.Kind.SUPPORT_ANSWER:  # its title is the question: always compared with
        return [provider.embed_query(line) for line in lines]  # (``SUPPORT_ANSWER_MIN_SIMILARITY``)
    if not alias_vectors_read() or len(lines) < 2:
        return []
    return [provider.embed_query(line) for line in lines]


def article_build_chunks(article: Article) -> list[ChunkBuild]:
    """The chunks of ``article``: each carries the title (and date) ahead of its content; the
    title and aliases count ``LEXICAL_TITLE_WEIGHT`` times in each chunk's lexical terms. Raw
    HTML in the body is left out (:func:`knowledge.chunking.strip_html`); a body of nothing
    else has no chunks.

    Chunk bodies are at most ``CHUNK_TOKENS`` tokens of ``CHUNK_TOKENIZER`` with
    ``CHUNK_OVERLAP_TOKENS`` of overlap; see :mod:`knowledge.chunking`.
    """
    encoding = chunk_encoding()
    drafts = chunk_text(
        strip_html(article.body),  # what the article page shows: no raw HTML quoted or searched
        max_tokens=settings.CHUNK_TOKENS,
        overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
        count=lambda t: count_tokens(t, encoding=encoding),
        cut=lambda t, n: truncate_tokens(t, n, encoding=encoding),
    )
    header = article.title
    if article.published_at:
        header += f"\n{article.published_at.date().isoformat()}"
    if article.aliases:  # other ways of asking for the article: searchable, never shown
        header += "\n" + article.aliases
    title_terms = analyse(article.title + ("\n" + article.aliases if article.aliases else ""))
    return [
        ChunkBuild(
            content=d.content,
            text=f"{header}\n\n{d.content}",
            token_count=d.token_count,
            lexemes=title_terms * settings.LEXICAL_TITLE_WEIGHT + analyse(d.content),
            sentences=plain_sentences(d.content),
        )
        for d in drafts
    ]


def article_index(
    *,
    article_id: int,
    content_hash: str | None = None,
    provider: EmbeddingProvider | None = None,
    progress: ProgressCallback | None = None,
) -> bool:
    """Chunk, analyse and embed one article, replacing its chunks. Returns True if it did work.

    ``content_hash`` is the version the task was enqueued for; a task for a version that
    is no longer the article's does nothing (the newer version has its own task). None
    (a call by hand) means the version stored now, or the current content when the row
    was changed without scheduling. Skips (False) when the article is gone, already
    indexed at this version with this embedding model, claimed by a live worker, or out
    of attempts (then marked ``failed``; see ``article_claim_indexing``).

    Before replacing chunks the article is locked and checked again: if the claim was
    taken over or the content changed meanwhile, the chunks are discarded and the article
    stays pending for the newer run. The same is checked after every embedding batch, so a
    long article saved again mid-run stops at once (False) and its newer version's task,
    queued behind this one, starts minutes sooner (customers had been answered from the
    old text for the whole of both runs). On an exception the article is marked ``failed``
    with the error and the exception re-raised (the task retries while attempts remain).
    Embeds ``EMBEDDING_BATCH_SIZE`` texts per call.
    """
    provider = provider or get_provider()
    article = Article.objects.filter(pk=article_id).first()
    if article is None or (content_hash is not None and article.content_hash != content_hash):
        return False
    current = article_content_hash(article)
    if article.content_hash != current:  # changed without scheduling: adopt the content we read
        if not Article.objects.filter(pk=article_id, content_hash=article.content_hash).update(content_hash=current):
            return False
        article.content_hash = current
    if not article_needs_indexing(article, provider.name):
        return False
    if article.index_state == Article.IndexState.INDEXED:
        # Indexed at another version of the settings (chunking, tokenizer, sentences, model):
        # due again, with a fresh attempt budget. Direct callers (evaluation, benchmark) get
        # here without a schedule; a worker's task gets here after one.
        Article.objects.filter(pk=article_id, index_state=Article.IndexState.INDEXED, content_hash=current).update(
            index_state=Article.IndexState.PENDING, index_attempts=0
        )
    claimed_at = article_claim_indexing(article_id=article_id, content_hash=current)
    if claimed_at is None:
        articles_give_up_exhausted(article_id=article_id)
        return False
    claim = Article.objects.filter(pk=article_id, index_state=Article.IndexState.INDEXING, index_started_at=claimed_at)

    def still_ours() -> None:
        if not claim.filter(content_hash=current).exists():
            raise _Superseded

    try:
        builds = article_build_chunks(article)
        vectors: list[list[float]] = []
        batch = max(1, settings.EMBEDDING_BATCH_SIZE)
        for start in range(0, len(builds), batch):
            vectors.extend(provider.embed_passages([b.text for b in builds[start : start + batch]]))
            still_ours()
            if progress:
                progress(len(vectors), len(builds))
        sentence_vectors = _embed_sentences(builds, article.title, provider, between=still_ours)
        alias_vectors = sentence_vectors_pack(_embed_aliases(article, provider))
        with transaction.atomic():
            locked = Article.objects.select_for_update().filter(pk=article_id).first()
            ours = locked is not None and locked.index_started_at == claimed_at
            if locked is None or not ours or locked.index_state != Article.IndexState.INDEXING:
                return False  # deleted, re-scheduled (a newer version is pending) or taken over
            if article_content_hash(locked) != current:  # edited without scheduling: index it again
                claim.update(index_state=Article.IndexState.PENDING, content_hash=article_content_hash(locked))
                return False
            Chunk.objects.filter(article_id=article_id).delete()
            Chunk.objects.bulk_create(
                Chunk(
                    article_id=article_id,
                    knowledge_base_id=article.knowledge_base_id,
                    ordinal=i,
                    content=b.content,
                    text=b.text,
                    token_count=b.token_count,
                    lexemes=" ".join(b.lexemes),
                    lexeme_count=len(b.lexemes),
                    embedding=v,
                    embedding_model=provider.name,
                    embedding_dimensions=len(v),
                    sentences=b.sentences,
                    sentence_vectors=sentence_vectors_pack(sv),
                    alias_vectors=alias_vectors,
                )
                for i, (b, v, sv) in enumerate(zip(builds, vectors, sentence_vectors, strict=True))
            )
            claim.update(
                indexed_hash=current,
                index_state=Article.IndexState.INDEXED,
                indexed_at=timezone.now(),
                embedding_model=provider.name,
                chunk_count=len(builds),
            )
        return True
    except _Superseded:
        return False  # the newer version is pending with its own task; this run's work is moot
    except Exception as exc:
        claim.update(index_state=Article.IndexState.FAILED, index_error=repr(exc)[:2000])
        raise


def knowledge_base_get_live() -> KnowledgeBase:
    """The collection customers are answered from (created by migration 0002)."""
    kb, _ = KnowledgeBase.objects.get_or_create(slug=LIVE_KNOWLEDGE_BASE, defaults={"name": "Help centre"})
    return kb


def articles_enqueue_pending(*, older_than_seconds: int = 30) -> int:
    """Enqueue indexing for every article that should be indexed but has no live task.

    Covers: pending rows whose enqueue failed (broker down) or whose task was lost,
    rows whose ``indexing`` claim is older than ``INDEX_CLAIM_TIMEOUT_SECONDS`` (worker
    killed mid-task; judged by ``index_started_at``), rows indexed with another
    embedding model (the model setting changed: everything is re-embedded), and rows that
    failed because the embedding provider was down (:class:`EmbeddingError`) at least
    ``INDEX_OUTAGE_RETRY_SECONDS`` ago, with a new budget (they had stayed ``failed`` after the
    provider came back, and customers were not answered from them). Rows out of attempts are
    marked ``failed`` instead. ``index_requested_at`` is pushed to now, so a row is enqueued
    again only after ``older_than_seconds``. Returns how many were enqueued.
    """
    articles_give_up_exhausted()
    now = timezone.now()
    Article.objects.filter(
        index_state=Article.IndexState.FAILED,
        index_error__startswith=f"{EmbeddingError.__name__}(",  # repr() of the error, as recorded
        index_started_at__lt=now - timedelta(seconds=settings.INDEX_OUTAGE_RETRY_SECONDS),
    ).update(index_state=Article.IndexState.PENDING, index_attempts=0, index_requested_at=None)
    lease = now - timedelta(seconds=older_than_seconds)
    waiting = Q(index_requested_at__lt=lease) | Q(index_requested_at__isnull=True)
    other_model = Article.objects.filter(index_state=Article.IndexState.INDEXED).exclude(
        embedding_model=get_provider().name
    )
    other_model.update(index_state=Article.IndexState.PENDING, index_attempts=0, index_requested_at=None)
    stale = now - timedelta(seconds=settings.INDEX_CLAIM_TIMEOUT_SECONDS)
    dead_claim = Q(index_state=Article.IndexState.INDEXING, index_started_at__lt=stale)
    rows = list(
        Article.objects.filter((Q(index_state=Article.IndexState.PENDING) | dead_claim) & waiting)
        .annotate(length=Length("body"))
        .values_list("id", "content_hash", "status", "length")
    )
    Article.objects.filter(id__in=[row[0] for row in rows]).update(index_requested_at=now)
    for article_id, content_hash, status, length in sorted(rows):
        enqueue_indexing(
            article_id, content_hash or None, draft=status != Article.Status.PUBLISHED, large=article_is_large(length)
        )
    return len(rows)
