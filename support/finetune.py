"""Fine-tuning data: approved question–answer pairs as OpenAI fine-tuning JSONL, validated.

Sources of pairs:

- **db** — what staff approved: answered tickets whose reply email was sent (the latest
  sent reply is the answer) and published curated answers (the question as asked and each
  variant, answered from the support answer as source 1). Each source is one small
  function in ``DB_SOURCES``.
- **squad** — SQuAD/KorQuAD v1.1 questions with their paragraph as the context and the
  first answer text as the answer.

Formats:

- **chat** (default) — exactly what the live answerer sends and expects
  (``support.answering.openai``): the live system prompt for the question's language, the
  live user message (numbered sources, then the question), and the assistant's reply in
  the live JSON shape ``{"answer", "cited_sources", "answerable"}``, so a fine-tuned model
  drops in without a prompt change.
- **completion** — the legacy layout: ``prompt`` = context, question and a fixed
  separator; ``completion`` = a leading space, the answer and a fixed stop sequence.

Validation follows OpenAI's cookbook "Data preparation and analysis for chat model
fine-tuning": each example must have the required keys and roles with non-empty string
content and an assistant message; tokens are counted with tiktoken as that guide does
(3 per message + 3 to prime the reply), with the bundled ``cl100k_base`` encoding
(``knowledge.tokens``, never downloaded); examples over the token limit (16,385 by
default, the guide's figure) are dropped rather than silently truncated by the API;
exact duplicates are removed; fewer than 10 examples is warned about (OpenAI's minimum).
Billed training tokens = epochs × the training file's tokens.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from knowledge.models import CuratedAnswer
from knowledge.tokens import encoding_named
from support.answering.base import SourceExcerpt
from support.answering.openai import build_messages, sources_block
from support.evaluation.squad import article_title
from support.models import EmailDelivery, Ticket

MAX_TOKENS_PER_EXAMPLE = 16_385  # OpenAI's data-preparation guide
MIN_EXAMPLES = 10  # OpenAI refuses smaller training files
COMPLETION_SEPARATOR = "\n\n###\n\n"  # legacy guide: a fixed separator ends every prompt
COMPLETION_STOP = " END"  # legacy guide: a fixed stop sequence ends every completion
CHAT_ROLES = {"system", "user", "assistant", "function", "tool"}
MESSAGE_KEYS = {"role", "content", "name", "function_call", "tool_calls", "weight"}
COUNTING_ENCODING = "cl100k_base"


@dataclass(frozen=True)
class Pair:
    """One approved question and its answer, with the context the answerer would see."""

    question: str
    answer: str
    language: str
    sources: tuple[SourceExcerpt, ...] = ()
    cited: tuple[int, ...] = ()
    origin: str = ""  # "ticket T-1A2B3C4D", "squad 6548850-0-0": for messages only


# --- sources of pairs ---------------------------------------------------------------------


def _excerpts(sources: list[dict[str, Any]]) -> tuple[SourceExcerpt, ...]:
    return tuple(
        SourceExcerpt(number=i, title=str(s.get("title", "")), text=str(s.get("excerpt", "")))
        for i, s in enumerate(sources or [], 1)
    )


def ticket_reply_pairs() -> list[Pair]:
    """Tickets whose reply email was sent: the question as asked, the latest sent reply.

    The sources are the ones retrieved when the question was asked (stored with it).
    """
    sent = EmailDelivery.objects.filter(
        ticket=OuterRef("pk"), kind=EmailDelivery.Kind.REPLY, state=EmailDelivery.State.SENT
    ).order_by("-sent_at", "-pk")
    tickets = (
        Ticket.objects.annotate(sent_reply=Subquery(sent.values("body")[:1]))
        .filter(sent_reply__isnull=False)
        .select_related("question")
        .order_by("pk")
    )
    return [
        Pair(
            question=t.question.text, answer=t.sent_reply, language=t.question.language,  # type: ignore[attr-defined]
            sources=_excerpts(t.question.sources), origin=f"ticket {t.reference}",
        )
        for t in tickets
    ]  # fmt: skip


def curated_answer_pairs(queryset: QuerySet[CuratedAnswer] | None = None) -> list[Pair]:
    """Published curated answers (or those of ``queryset``, whatever their status): one pair for
    the question as asked and one per variant, with the support answer itself as source 1,
    as the live answerer would retrieve it once published."""
    if queryset is None:
        queryset = CuratedAnswer.objects.filter(status=CuratedAnswer.Status.PUBLISHED)
    pairs = []
    for curated in queryset.order_by("pk"):
        source = SourceExcerpt(number=1, title=curated.question, text=curated.answer, language=curated.language)
        asked = [curated.question, *(line.strip() for line in curated.variants.splitlines() if line.strip())]
        pairs += [
            Pair(
                question=question, answer=curated.answer, language=curated.language, sources=(source,), cited=(1,),
                origin=f"curated answer {curated.pk}",
            )
            for question in dict.fromkeys(asked)
        ]  # fmt: skip
    return pairs


# Each returns the pairs staff approved in one place.
DB_SOURCES: tuple[Callable[[], list[Pair]], ...] = (ticket_reply_pairs, curated_answer_pairs)


def db_pairs() -> list[Pair]:
    return [pair for source in DB_SOURCES for pair in source()]


def squad_pairs(path: Path) -> list[Pair]:
    """Questions of a SQuAD/KorQuAD v1.1 file with their paragraph (source 1) and first answer.

    Raises ``FileNotFoundError`` or ``ValueError`` (not SQuAD v1.1 JSON).
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path.name}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{path.name}: not a SQuAD v1.1 file (expected {{'data': [...]}})")
    from knowledge.analysis import detect_language

    pairs = []
    for entry in data["data"]:
        title = article_title(entry)
        for paragraph in (entry.get("paragraphs") or []) if isinstance(entry, dict) else []:
            context = str(paragraph.get("context") or "")
            for qa in paragraph.get("qas") or []:
                answers = [str(a.get("text", "")).strip() for a in qa.get("answers") or []]
                question = str(qa.get("question") or "").strip()
                pairs.append(
                    Pair(
                        question=question, answer=next((a for a in answers if a), ""),
                        language=detect_language(question), sources=(SourceExcerpt(1, title, context),),
                        cited=(1,), origin=f"squad {qa.get('id', '')}",
                    )
                )  # fmt: skip
    return pairs


# --- examples -----------------------------------------------------------------------------


def chat_example(pair: Pair) -> dict[str, Any]:
    """``{"messages": [system, user, assistant]}`` in the live answerer's exact format."""
    messages: list[dict[str, Any]] = [
        dict(m) for m in build_messages(question=pair.question, sources=list(pair.sources), language=pair.language)
    ]
    reply = {"answer": pair.answer.strip(), "cited_sources": list(pair.cited), "answerable": True}
    messages.append({"role": "assistant", "content": json.dumps(reply, ensure_ascii=False)})
    return {"messages": messages}


def completion_example(pair: Pair) -> dict[str, str]:
    """``{"prompt", "completion"}``: the legacy layout with ``COMPLETION_SEPARATOR`` and ``COMPLETION_STOP``."""
    context = sources_block(list(pair.sources)) + "\n\n" if pair.sources else ""
    return {
        "prompt": f"{context}Question: {pair.question.strip()}{COMPLETION_SEPARATOR}",
        "completion": f" {pair.answer.strip()}{COMPLETION_STOP}",
    }


def chat_errors(example: Any) -> list[str]:
    """Format errors of one chat example, named as in OpenAI's guide (empty list: valid)."""
    if not isinstance(example, dict):
        return ["data_type"]
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["missing_messages_list"]
    errors = []
    for message in messages:
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            errors.append("message_missing_key")
            continue
        if set(message) - MESSAGE_KEYS:
            errors.append("message_unrecognized_key")
        if message["role"] not in CHAT_ROLES:
            errors.append("unrecognized_role")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            errors.append("missing_content")
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        errors.append("example_missing_assistant_message")
    return errors


def completion_errors(example: Any) -> list[str]:
    """Format errors of one legacy prompt/completion example (empty list: valid)."""
    if not isinstance(example, dict) or set(example) != {"prompt", "completion"}:
        return ["data_type"]
    prompt, completion = example["prompt"], example["completion"]
    errors = []
    if not isinstance(prompt, str) or not prompt.removesuffix(COMPLETION_SEPARATOR).strip():
        errors.append("missing_prompt")
    elif not prompt.endswith(COMPLETION_SEPARATOR):
        errors.append("prompt_missing_separator")
    if not isinstance(completion, str) or not completion.removesuffix(COMPLETION_STOP).strip():
        errors.append("missing_completion")
    elif not completion.startswith(" ") or not completion.endswith(COMPLETION_STOP):
        errors.append("completion_format")
    return errors


def example_tokens(example: dict[str, Any]) -> int:
    """Tokens of one example as OpenAI's guide counts them (``cl100k_base``).

    Chat: 3 per message, 1 per ``name``, the content's tokens, and 3 priming the reply.
    Completion: prompt plus completion tokens.
    """
    encoding = encoding_named(COUNTING_ENCODING)
    if "messages" in example:
        total = 3
        for message in example["messages"]:
            total += 3 + len(encoding.encode(str(message.get("content") or ""), disallowed_special=()))
            if "name" in message:
                total += 1 + len(encoding.encode(str(message["name"]), disallowed_special=()))
        return total
    return sum(len(encoding.encode(example[k], disallowed_special=())) for k in ("prompt", "completion"))


@dataclass
class Prepared:
    """Validated examples with their token counts and what was dropped, by reason."""

    examples: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)


def prepare(pairs: list[Pair], fmt: str, max_tokens: int = MAX_TOKENS_PER_EXAMPLE) -> Prepared:
    """Build examples of format ``fmt`` (``chat``/``completion``); drop invalid, too long and duplicate ones."""
    build, errors_of = (chat_example, chat_errors) if fmt == "chat" else (completion_example, completion_errors)
    prepared, seen = Prepared(), set()
    for pair in pairs:
        # The chat reply wraps the answer in JSON, so an empty answer would pass the format check.
        empty = [name for name in ("question", "answer") if not getattr(pair, name).strip()]
        if empty:
            prepared.dropped.update(f"missing_{name}" for name in empty)
            continue
        example = build(pair)
        errors = errors_of(example)
        if errors:
            prepared.dropped.update(set(errors))
            continue
        key = json.dumps(example, ensure_ascii=False, sort_keys=True)
        if key in seen:
            prepared.dropped["duplicate"] += 1
            continue
        seen.add(key)
        tokens = example_tokens(example)
        if tokens > max_tokens:
            prepared.dropped["over_token_limit"] += 1
            continue
        prepared.examples.append(example)
        prepared.tokens.append(tokens)
    return prepared


def split(prepared: Prepared, fraction: float, seed: int) -> tuple[Prepared, Prepared]:
    """Shuffle with ``seed`` and hold out ``fraction`` for validation (at least one when there are two or more)."""
    order = list(range(len(prepared.examples)))
    random.Random(seed).shuffle(order)
    n_val = round(len(order) * fraction)
    if fraction > 0 and len(order) >= 2:
        n_val = min(max(n_val, 1), len(order) - 1)
    train, val = Prepared(dropped=prepared.dropped), Prepared()
    for position, index in enumerate(order):
        target = val if position < n_val else train
        target.examples.append(prepared.examples[index])
        target.tokens.append(prepared.tokens[index])
    return train, val


def billed_tokens(prepared: Prepared, epochs: int, max_tokens: int = MAX_TOKENS_PER_EXAMPLE) -> int:
    """Training tokens OpenAI bills: ``epochs`` × the file's tokens (each example capped at ``max_tokens``)."""
    return epochs * sum(min(max_tokens, n) for n in prepared.tokens)


def write_jsonl(path: Path, examples: list[dict[str, Any]]) -> None:
    """Write one JSON object per line (UTF-8) atomically: a failure leaves any old file as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as handle:
        try:
            for example in examples:
                handle.write(json.dumps(example, ensure_ascii=False) + "\n")
        except BaseException:
            handle.close()
            Path(handle.name).unlink(missing_ok=True)
            raise
    os.replace(handle.name, path)
