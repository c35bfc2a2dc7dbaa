"""Internal search for staff: one box over articles, support answers and past answered tickets.

Articles and support answers (published curated answers) come from the customer path's own
hybrid retrieval (:func:`knowledge.selectors.retrieve`), so staff see what customers would
be answered from, Korean and English alike; but only articles that share a word with the
search (its lexical side) are listed, because the dense side always has nearest neighbours
(every article came back for "gift card", ahead of the one ticket that matched). When no
article shares a word, the ``MEANING_ONLY_HITS`` nearest by meaning are listed, marked so
(a Korean search for an English article without *also asked as* lines). Past tickets that
got a reply are matched on the question's search terms (:func:`knowledge.analysis.analyse`,
the same Kiwi morphemes) in the question and the reply, ranked by how many distinct terms
they hold, newest first on ties. Snippets (plain text) mark every occurrence of a term.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import reduce
from operator import or_

from django.db.models import Q
from django.urls import reverse

from knowledge.analysis import analyse
from knowledge.chunking import plain_text
from knowledge.embeddings import EmbeddingError
from knowledge.models import Article
from knowledge.selectors import retrieve
from knowledge.services import knowledge_base_get_live
from support.models import Ticket

KINDS = ("article", "support_answer", "ticket")
SNIPPET_CHARS = 220
MAX_RESULTS_PER_KIND = 10
MEANING_ONLY_HITS = 3  # articles listed by meaning alone when none shares a word with the search
TICKET_CANDIDATES = 200  # tickets read per search before ranking


@dataclass
class SearchHit:
    """One result: ``kind`` in ``KINDS``; ``snippet`` is ``[(text, is_match), ...]`` for highlighting."""

    kind: str
    title: str
    url: str
    when: datetime | None
    snippet: list[tuple[str, bool]] = field(default_factory=list)
    score: float = 0.0
    by_meaning_only: bool = False  # shares no word with the search: found by the embedding alone


def snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> list[tuple[str, bool]]:
    """A window of ``text`` around its first term, split into ``(text, is_match)`` parts.

    Terms match case-insensitively as substrings (Kiwi stems such as ``환불`` sit inside
    ``환불은``). Without any match: the first ``width`` characters, unmarked.
    """
    text = " ".join(text.split())
    pattern = (
        re.compile("|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True)), re.I) if terms else None
    )
    first = pattern.search(text) if pattern else None
    start = max(0, first.start() - width // 3) if first else 0
    window = text[start : start + width]
    prefix, suffix = ("…" if start else ""), ("…" if start + width < len(text) else "")
    if pattern is None:
        return [(prefix + window + suffix, False)]
    parts: list[tuple[str, bool]] = [(prefix, False)] if prefix else []
    at = 0
    for match in pattern.finditer(window):
        parts += [(window[at : match.start()], False), (match.group(0), True)]
        at = match.end()
    parts.append((window[at:] + suffix, False))
    return [p for p in parts if p[0]]


def _in_period(when: datetime | None, since: date | None, until: date | None) -> bool:
    if when is None:
        return since is None and until is None
    day = when.date()
    return (since is None or day >= since) and (until is None or day <= until)


def staff_search(
    query: str, *, kinds: tuple[str, ...] = KINDS, since: date | None = None, until: date | None = None
) -> list[SearchHit]:
    """Search ``query`` over ``kinds``, optionally within ``since``..``until`` (inclusive days).

    Returns at most ``MAX_RESULTS_PER_KIND`` hits per kind, articles and support answers in
    retrieval order (those sharing a word with ``query``, else ``MEANING_ONLY_HITS`` marked
    ``by_meaning_only``), then tickets. An unreachable embedding model leaves the lexical side
    of retrieval; a blank query returns nothing. Raises nothing else.
    """
    query = query.strip()
    if not query:
        return []
    terms = list(dict.fromkeys(analyse(query, query=True))) or [query]
    hits: list[SearchHit] = []
    if {"article", "support_answer"} & set(kinds):
        kb = knowledge_base_get_live()
        try:
            found = retrieve(question=query, kb_id=kb.pk, limit=3 * MAX_RESULTS_PER_KIND).chunks
        except EmbeddingError:
            found = retrieve(question=query, kb_id=kb.pk, mode="lexical", limit=3 * MAX_RESULTS_PER_KIND).chunks
        worded = [c for c in found if c.lexical_score > 0]
        by_meaning_only = not worded
        found = worded or found[:MEANING_ONLY_HITS]
        articles = Article.objects.in_bulk({c.article_id for c in found})
        seen: set[int] = set()
        for chunk in found:
            article = articles.get(chunk.article_id)
            if article is None or article.pk in seen or article.kind not in kinds:
                continue
            if not _in_period(article.published_at or article.updated_at, since, until):
                continue
            seen.add(article.pk)
            hits.append(
                SearchHit(
                    kind=article.kind, title=article.title, url=article.get_absolute_url(),
                    when=article.published_at or article.updated_at, snippet=snippet(plain_text(chunk.content), terms),
                    score=chunk.score, by_meaning_only=by_meaning_only,
                )
            )  # fmt: skip
        hits = [h for kind in ("article", "support_answer") for h in hits if h.kind == kind][: 2 * MAX_RESULTS_PER_KIND]
    if "ticket" in kinds:
        hits += _ticket_hits(terms, since, until)
    return hits


def _ticket_hits(terms: list[str], since: date | None, until: date | None) -> list[SearchHit]:
    matches = reduce(or_, (Q(question__text__icontains=t) | Q(reply__icontains=t) for t in terms))
    tickets = Ticket.objects.filter(matches).exclude(reply="").select_related("question")
    if since:
        tickets = tickets.filter(created_at__date__gte=since)
    if until:
        tickets = tickets.filter(created_at__date__lte=until)
    ranked = []
    for ticket in tickets.order_by("-created_at")[:TICKET_CANDIDATES]:
        haystack = f"{ticket.question.text} {ticket.reply}".lower()
        ranked.append((sum(1 for t in terms if t.lower() in haystack), ticket))
    ranked.sort(key=lambda pair: (-pair[0], -pair[1].created_at.timestamp()))
    return [
        SearchHit(
            kind="ticket", title=f"{ticket.reference} · {ticket.question.text[:80]}",
            url=reverse("admin:support_ticket_change", args=[ticket.pk]), when=ticket.created_at,
            snippet=snippet(ticket.reply, terms), score=float(count),
        )
        for count, ticket in ranked[:MAX_RESULTS_PER_KIND]
    ]  # fmt: skip
