"""Questions of a SQuAD/KorQuAD v1.1 file, matched to articles by title.

The importer (:func:`knowledge.importers.squad_records`) makes one article per
``data[]`` entry with the entry's title; :func:`read_questions` keeps that title with
each question so the runner can tell which article holds its answer.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.models import TITLE_MAX_LENGTH


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: tuple[str, ...]  # gold answer texts, duplicates removed, file order kept
    article_title: str  # "" for a question no article answers (a help-centre set's unanswerable ones)
    group: str = "ko-ko"  # language pair "question-article", for figures per pair
    facts: bool = False  # ``answers`` are a help-centre set's facts, matched by metrics.contains_fact


def article_title(entry: Any) -> str:
    """The title an article imported from ``entry`` gets (see ``record_from_mapping``)."""
    title = entry.get("title") if isinstance(entry, dict) else None
    return str(title or "").strip()[:TITLE_MAX_LENGTH]  # as the importer truncates


def questions_from_data(data: dict[str, Any]) -> list[SquadQuestion]:
    """Every answerable question of a parsed SQuAD v1.1 document, in file order.

    Questions without a non-empty answer text (SQuAD 2.0's impossible ones) are dropped:
    they can't be scored.
    """
    found: list[SquadQuestion] = []
    for entry in data.get("data") or []:
        title = article_title(entry)
        for paragraph in (entry.get("paragraphs") or []) if isinstance(entry, dict) else []:
            for qa in paragraph.get("qas") or []:
                texts = [str(a.get("text", "")).strip() for a in qa.get("answers") or []]
                answers = tuple(dict.fromkeys(t for t in texts if t))
                text = str(qa.get("question") or "").strip()
                if answers and text:
                    qid = str(qa.get("id", ""))
                    found.append(SquadQuestion(id=qid, question=text, answers=answers, article_title=title))
    return found


def read_questions(path: Path) -> list[SquadQuestion]:
    """Questions of the SQuAD v1.1 JSON file at ``path``.

    Raises ``FileNotFoundError`` if it is missing and ``ValueError`` if it is not SQuAD v1.1.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path.name}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{path.name}: not a SQuAD v1.1 file (expected {{'data': [...]}})")
    return questions_from_data(data)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes, or of a folder's ``*.md`` files (names and bytes, sorted).

    Names the evaluation collection built from it, so a changed file gets a new one.
    Raises ``FileNotFoundError`` if ``path`` does not exist.
    """
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    digest = hashlib.sha256()
    files = sorted(path.rglob("*.md")) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
