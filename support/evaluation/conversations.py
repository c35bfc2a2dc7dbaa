"""Follow-up questions evaluated in context: ``manage.py evaluate --conversations FILE``.

The file holds one conversation per line (``samples/conversations/nabi-market.jsonl``)::

    {"id": "conv-001", "language": "ko", "turns": [
        {"question": "...", "article": "<slug in the articles folder>", "facts": ["14일 이내"]}, ...]}

A turn with ``"article": null`` (and no facts) is one no article answers — a follow-up that
changes the subject to something the help centre does not cover, such as "Do you sell
concert tickets?" after a question about KakaoPay
(``samples/conversations/nabi-market-off-topic.jsonl``). It should be escalated; such turns
are counted apart (**unanswerable escalated**) and in none of the shares below.

Each conversation is asked turn by turn through ``question_answer`` (unsaved), in the
isolated collection of the articles folder (:func:`support.evaluation.runner.collection_import`),
once per context method: ``none`` (every turn alone: "without context") and each
offline method of :data:`support.conversations.OFFLINE_METHODS`, without and with the
topic-change check (``+topic``: a follow-up the gate answers alone is retrieved alone),
plus ``rewrite`` when a chat model is configured. Figures are over follow-up turns (turn ≥ 2):

* **top source right** — the first (cited) source is a chunk of the expected article;
* **answered, right article** — answered at the threshold and top source right (issue 9's
  "cites the right article and answers");
* **answered right** — answered at the threshold, top source right, and the answer
  contains one of the turn's facts (``metrics.contains_fact``).
"""

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.embeddings import get_provider
from support.answering import get_chat_provider
from support.conversations import OFFLINE_METHODS, Turn, turn_from_question
from support.evaluation.metrics import contains_fact
from support.evaluation.runner import (
    Collection,
    ProgressLine,
    collection_import,
    collection_index,
    collection_lock,
)
from support.models import Question
from support.services import question_answer

TOPIC_SUFFIX = "+topic"  # the method with CONVERSATION_TOPIC_CHANGE on (without the suffix: off)


@dataclass(frozen=True)
class ConversationTurn:
    question: str
    article: str | None  # slug; None: no article answers it (it should be escalated)
    facts: tuple[str, ...]


@dataclass(frozen=True)
class ConversationCase:
    id: str
    language: str
    turns: tuple[ConversationTurn, ...]


def read_conversations(path: Path, slugs: set[str]) -> list[ConversationCase]:
    """Every conversation of the JSONL file at ``path``; ``slugs`` are the articles folder's.

    Raises ``FileNotFoundError`` if missing and ``ValueError`` (with the line number) for
    a malformed line, an unknown article, a turn without facts (unless its article is null:
    an unanswerable turn, which has none) or fewer than two turns.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    cases: list[ConversationCase] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: invalid JSON ({exc.msg})") from exc
        turns = data.get("turns") if isinstance(data, dict) else None
        if not isinstance(turns, list) or len(turns) < 2:
            raise ValueError(f"{where}: needs 'turns', a list of at least two")
        parsed = []
        for turn in turns:
            question = str(turn.get("question") or "").strip()
            slug = None if turn.get("article") is None else str(turn["article"])
            facts = tuple(str(f) for f in turn.get("facts") or [] if str(f).strip())
            answerable = slug is not None and slug in slugs and bool(facts)
            if not question or not (answerable or (slug is None and not facts)):
                raise ValueError(
                    f"{where}: each turn needs a question and a known article slug with facts (or a null article)"
                )
            parsed.append(ConversationTurn(question=question, article=slug, facts=facts))
        cases.append(
            ConversationCase(
                id=str(data.get("id") or where), language=str(data.get("language") or ""), turns=tuple(parsed)
            )
        )
    return cases


@dataclass
class Tally:
    """Counts over follow-up turns for one (method, language)."""

    followups: int = 0
    top_source_right: int = 0
    answered: int = 0
    answered_cited_right: int = 0  # answered, first source the expected article (the measure)
    answered_right: int = 0  # … and the answer holds the fact
    unanswerable: int = 0  # follow-ups no article answers (counted in none of the above)
    unanswerable_escalated: int = 0
    misses: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # every turn (first ones too), to read misses

    def shares(self) -> dict[str, Any]:
        n = max(self.followups, 1)
        return {
            "followups": self.followups,
            "top_source_right": round(self.top_source_right / n, 4),
            "answered": round(self.answered / n, 4),
            "answered_cited_right": round(self.answered_cited_right / n, 4),
            "answered_right": round(self.answered_right / n, 4),
            "unanswerable": self.unanswerable,
            # None (no such turn), not a 0.0 that reads as "none escalated"
            "unanswerable_escalated": (
                round(self.unanswerable_escalated / self.unanswerable, 4) if self.unanswerable else None
            ),
        }


def _top_article(question: Question) -> int | None:
    sources = question.sources or []
    return int(sources[0]["article_id"]) if sources else None


def conversation_ask(
    case: ConversationCase, *, collection: Collection, method: str, threshold: float | None, tallies: dict[str, Tally]
) -> None:
    """Ask ``case`` turn by turn with context ``method``; add its follow-ups to ``tallies`` (by language and "all")."""
    history: list[Turn] = []
    chat = get_chat_provider()
    context, topic, _ = method.partition(TOPIC_SUFFIX)
    for number, turn in enumerate(case.turns, 1):
        outcome = question_answer(
            text=turn.question, knowledge_base=collection.knowledge_base, provider=chat, threshold=threshold,
            store=False, history=history if method != "none" else [],
            context_method=None if method == "rewrite" else context, topic_change=bool(topic),
        )  # fmt: skip
        q = outcome.question
        history.append(turn_from_question(q))
        expected = collection.article_by_title[collection.title_by_slug[turn.article]] if turn.article else None
        top_right = expected is not None and _top_article(q) == expected
        answered = q.status == Question.Status.ANSWERED
        right = answered and top_right and contains_fact(q.answer, list(turn.facts))
        sources = q.sources or []
        tallies["all"].records.append(
            {
                "id": f"{case.id}#{number}", "question": turn.question, "query": q.retrieval_query,
                "status": q.status, "confidence": round(q.confidence or 0.0, 4),
                "top_title": sources[0]["title"] if sources else "", "expected": turn.article,
                "top_right": top_right, "right": right, "answer": q.answer,
            }
        )  # fmt: skip
        if number == 1:
            continue
        for key in (case.language, "all"):
            tally = tallies[key]
            if expected is None:
                tally.unanswerable += 1
                tally.unanswerable_escalated += not answered
                continue
            tally.followups += 1
            tally.top_source_right += top_right
            tally.answered += answered
            tally.answered_cited_right += answered and top_right
            tally.answered_right += right
            if not top_right and key == "all":
                tally.misses.append(f"{case.id}#{number}")


def conversations_evaluate(
    *, conversations_path: Path, articles_path: Path, write: Callable[[str], None], threshold: float | None = None
) -> dict[str, Any]:
    """Import and index the articles (isolated collection), ask every conversation with each
    context method, and return ``{"methods": {method: {language|"all": shares}}, ...}``; its
    ``"turns"`` holds every turn asked per method (query, status, confidence, top source) for reading misses.

    ``threshold`` defaults to the one in force. Raises ``FileNotFoundError``/``ValueError``
    for unreadable files.
    """
    from support.selectors import answer_threshold

    progress = ProgressLine(write)
    with collection_lock(articles_path, write):
        collection = collection_import(path=articles_path, exclude_fraction=0.0, seed=0)
        cases = read_conversations(conversations_path, set(collection.title_by_slug))
        collection_index(collection=collection, provider=get_provider(), progress=progress)
        threshold = answer_threshold() if threshold is None else threshold
        offline = [m for m in OFFLINE_METHODS if m != "none"]
        methods = ["none", *offline, *(m + TOPIC_SUFFIX for m in offline)]
        if get_chat_provider().calls_model:
            methods.append("rewrite")
        results: dict[str, Any] = {}
        misses: dict[str, list[str]] = {}
        records: dict[str, list[dict[str, Any]]] = {}
        for method in methods:
            tallies: dict[str, Tally] = defaultdict(Tally)
            for number, case in enumerate(cases, 1):
                conversation_ask(case, collection=collection, method=method, threshold=threshold, tallies=tallies)
                progress.update(f"{method}: conversation {number}/{len(cases)}")
            progress.finish(f"{method}: {len(cases)} conversations asked")
            results[method] = {key: tally.shares() for key, tally in sorted(tallies.items())}
            misses[method] = tallies["all"].misses
            records[method] = tallies["all"].records
    return {
        "conversations": len(cases),
        "threshold": threshold,
        "chat_provider": get_chat_provider().name,
        "methods": results,
        "top_source_misses": misses,
        "turns": records,
    }


def format_conversations(report: dict[str, Any]) -> str:
    """The figures as a plain-text table: one row per method and language."""
    lines = [
        f"{report['conversations']} conversations · threshold {report['threshold']:.3f} · {report['chat_provider']}",
        "",
        f"{'context':<28}{'lang':<6}{'follow-ups':>11}{'top source right':>18}{'answered':>10}"
        f"{'answered, right article':>25}{'answered right':>16}{'unanswerable escalated':>26}",
    ]
    for method, by_language in report["methods"].items():
        for language, s in by_language.items():
            unanswerable = f"{s['unanswerable_escalated']:.1%} of {s['unanswerable']}" if s["unanswerable"] else "-"
            lines.append(
                f"{method:<28}{language:<6}{s['followups']:>11}{s['top_source_right']:>18.1%}"
                f"{s['answered']:>10.1%}{s['answered_cited_right']:>25.1%}{s['answered_right']:>16.1%}"
                f"{unanswerable:>26}"
            )
    return "\n".join(lines)
