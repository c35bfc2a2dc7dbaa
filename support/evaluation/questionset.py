"""Customer question sets about a help centre (``samples/questions/*.jsonl``), as evaluation questions.

One JSON object per line (format: ``samples/questions/README.md``)::

    {"id": "nm-001", "question": "...", "language": "ko", "answerable": true,
     "article": "<slug>", "facts": ["14일"], "pair": "ko-en"}

An answerable question names the article (by slug) that answers it and the facts an
answer must contain; an unanswerable one has ``"article": null`` and should be
escalated. Each becomes a :class:`~support.evaluation.squad.SquadQuestion` whose gold
answers are the facts and whose ``group`` is the language pair, so the SQuAD runner,
figures and calibration apply unchanged; an unanswerable question has no article title
and counts as out of scope.
"""

import json
from pathlib import Path

from support.evaluation.squad import SquadQuestion

PAIRS = ("ko-ko", "en-en", "ko-en", "en-ko", "ko", "en")


def question_from_line(data: object, titles_by_slug: dict[str, str], location: str) -> SquadQuestion:
    """One question-set object as a :class:`SquadQuestion`; ``ValueError`` naming ``location`` if invalid."""
    if not isinstance(data, dict):
        raise ValueError(f"{location}: expected an object")
    text, answerable = str(data.get("question") or "").strip(), data.get("answerable")
    if not text or not isinstance(answerable, bool):
        raise ValueError(f"{location}: needs a non-empty 'question' and a boolean 'answerable'")
    pair = str(data.get("pair") or "")
    if pair not in PAIRS:
        raise ValueError(f"{location}: 'pair' must be one of {', '.join(PAIRS)}")
    title, facts = "", tuple(str(f) for f in data.get("facts") or [] if str(f).strip())
    if answerable:
        slug = str(data.get("article") or "")
        if slug not in titles_by_slug:
            raise ValueError(f"{location}: article {slug!r} is not in the articles folder")
        if not facts:
            raise ValueError(f"{location}: an answerable question needs at least one fact")
        title = titles_by_slug[slug]
    return SquadQuestion(
        id=str(data.get("id") or location),
        question=text,
        answers=facts,
        article_title=title,
        group=pair,
        facts=True,
    )


def read_question_set(path: Path, titles_by_slug: dict[str, str]) -> list[SquadQuestion]:
    """Every question of the JSONL file at ``path``; ``titles_by_slug`` maps the articles folder's slugs to titles.

    Raises ``FileNotFoundError`` if the file is missing and ``ValueError`` (with the line
    number) for a malformed line, an unknown article or a duplicate id.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    questions: list[SquadQuestion] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name} line {number}: invalid JSON ({exc.msg})") from exc
        questions.append(question_from_line(data, titles_by_slug, f"{path.name} line {number}"))
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path.name}: duplicate question ids")
    return questions
