"""``manage.py learn_wording``: the learning loop run on a folder of Markdown articles.

The ticket page's "Teach the help centre" adds an escalated customer's wording to the
*also asked as* lines of the article that answers it (``support.workflow.ticket_wording_to_article``).
This command replays that loop on question sets, in an isolated evaluation collection of
``--articles``, and with ``--write`` appends the lines it added, and the sentences that answer
them (``alias_answers``), to the articles' front matter,
and the known gaps it remembered (escalated questions no article answers: "No article answers
this") to the folder's ``known-gaps.txt``: how the sample help centre's learned lines and known
gaps were made (README, *Answer quality*).
"""

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from knowledge.embeddings import get_provider
from knowledge.importers import KNOWN_GAPS_FILE, read_records
from knowledge.services import ALIASES_MAX_LINES
from support.answering import get_chat_provider
from support.evaluation.runner import (
    Asker,
    ProgressLine,
    collection_import,
    collection_index,
    collection_learn_sets,
    collection_load_chunks,
    collection_lock,
)
from support.management.commands.evaluate import stderr_writer
from support.selectors import answer_threshold

GAPS_HEADER = (
    "# Questions support confirmed no article answers (knowledge.models.KnownGap), one per line: a customer\n"
    "# asking alike is escalated at once. manage.py import_articles imports them with the articles.\n"
)


def _front_matter_append(text: str, key: str, item: str, items: str, shape: str) -> str:
    """``text`` with ``items`` (YAML lines) appended to its front matter's block ``key:``, whose
    lines match ``item`` (a regex), the block created before the closing ``---`` when there is
    none. Raises ``ValueError`` without front matter, or when ``key`` is not such a block
    (``shape`` names what it should be)."""
    if not text.startswith("---\n") or "\n---\n" not in text[3:]:
        raise ValueError("no front matter")
    end = text.index("\n---\n", 3) + 1
    found = re.compile(rf"^{key}:[ \t]*\n((?:{item}\n)*)", re.MULTILINE).search(text, 0, end)
    if found:
        return text[: found.end()] + items + text[found.end() :]
    if re.search(rf"^{key}:", text[:end], re.MULTILINE):
        raise ValueError(f"its '{key}' is not {shape}")
    return text[:end] + f"{key}:\n" + items + text[end:]


def front_matter_with_lines(text: str, lines: list[str]) -> str:
    """Markdown ``text`` with ``lines`` appended to its front matter's ``aliases:`` list (one
    ``  - "…"`` item each, JSON-quoted, which YAML reads as the same string), the list created
    before the closing ``---`` when the article has none. Raises ``ValueError`` for a file
    without front matter or whose ``aliases`` is not a block list."""
    items = "".join(f"  - {json.dumps(line, ensure_ascii=False)}\n" for line in lines)
    return _front_matter_append(text, "aliases", r"[ \t]+-[^\n]*", items, "a list of '- line' items")


def front_matter_with_answers(text: str, answers: dict[str, str]) -> str:
    """Markdown ``text`` with ``answers`` (*also asked as* line → the sentence answering it) added
    to its front matter's ``alias_answers:`` mapping (one ``  "line": "sentence"`` item each,
    JSON-quoted), the mapping created before the closing ``---`` when the article has none. The
    loop teaches an answer only to a line without one. Raises ``ValueError`` for a file without
    front matter or whose ``alias_answers`` is not a block mapping."""
    items = "".join(
        f"  {json.dumps(line, ensure_ascii=False)}: {json.dumps(sentence, ensure_ascii=False)}\n"
        for line, sentence in answers.items()
    )
    return _front_matter_append(
        text, "alias_answers", r"[ \t]+[^\n]*", items, 'a mapping of \'"line": "sentence"\' items'
    )


class Command(BaseCommand):
    help = (
        "Replay the learning loop on a folder of Markdown articles: ask each --from question set through "
        "the customer path (an isolated evaluation collection), add the wording of every answerable "
        "question it escalates to its article's also-asked-as lines and remember every unanswerable one "
        "as a known gap; --write appends them to the files (front matter, known-gaps.txt)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--articles", type=Path, required=True, help="folder of Markdown articles")
        parser.add_argument(
            "--from", dest="sets", type=Path, action="append", required=True, metavar="QUESTIONS",
            help="customer question set (JSONL, samples/questions/README.md), in order; repeatable",
        )  # fmt: skip
        parser.add_argument("--write", action="store_true", help="append the lines to the articles' front matter")
        parser.add_argument(
            "--unhelpful", action="store_true",
            help="an answer that was not right comes back as a ticket too (the customer said \"No\" under it)",
        )  # fmt: skip
        parser.add_argument(
            "--answer-lines", action="store_true",
            help="every answerable question whose line the article already has teaches that line its answer "
            "(the sentence holding a fact), answered or not",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["articles"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder of Markdown articles")

        write = stderr_writer(self)
        progress = ProgressLine(write)
        try:
            with collection_lock(folder, write):
                collection = collection_import(path=folder, exclude_fraction=0.0, seed=0)
                embedder = get_provider()
                collection_index(collection=collection, provider=embedder, progress=progress)
                collection_load_chunks(collection)
                asker = Asker(
                    collection=collection, embedder=embedder, chat=get_chat_provider(),
                    threshold=answer_threshold(), retrievers=(),
                )  # fmt: skip
                collection_learn_sets(
                    collection=collection, paths=options["sets"], asker=asker, progress=progress,
                    unhelpful=options["unhelpful"], answer_lines=options["answer_lines"],
                )  # fmt: skip
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        by_title: dict[str, list[str]] = defaultdict(list)
        answers: dict[str, dict[str, str]] = defaultdict(dict)  # title -> line -> sentence
        gaps: list[str] = []
        for report in collection.learned:
            self.stdout.write(
                f"{report['file']}: {report['lines_added']} lines from {report['escalated_in_scope']} escalated "
                f"answerable questions, {report['gaps_added']} known gaps from escalated unanswerable ones"
                + (f", {report['unhelpful']} answers not right came back" if options["unhelpful"] else "")
                + f", {len(report['answers'])} answers ({report['refused']} refused: blank, already there "
                f"or the article full at {ALIASES_MAX_LINES} lines)"
            )
            for title, line in report["lines"]:
                by_title[title].append(line)
            for title, line, sentence in report["answers"]:
                answers[title][line] = sentence
            gaps.extend(report["gaps"])
        for title, lines in by_title.items():
            self.stdout.write(f"  {title}: {len(lines)} lines")
        if options["write"]:
            self._write(folder, by_title, answers)
            if gaps:
                self._write_gaps(folder, gaps)

    def _write(self, folder: Path, by_title: dict[str, list[str]], answers: dict[str, dict[str, str]]) -> None:
        records, _ = read_records(folder)
        files = {r.title: next(folder.rglob(r.location)) for r in records}
        for title in dict.fromkeys([*by_title, *answers]):
            path, lines, taught = files[title], by_title.get(title, []), answers.get(title, {})
            try:
                text = path.read_text(encoding="utf-8")
                text = front_matter_with_lines(text, lines) if lines else text
                path.write_text(front_matter_with_answers(text, taught) if taught else text, encoding="utf-8")
            except ValueError as exc:
                raise CommandError(f"{path.name}: {exc}; nothing more was written") from exc
            self.stdout.write(f"wrote {len(lines)} lines and {len(taught)} answers to {path}")

    def _write_gaps(self, folder: Path, gaps: list[str]) -> None:
        path = folder / KNOWN_GAPS_FILE
        text = path.read_text(encoding="utf-8") if path.exists() else GAPS_HEADER
        have = {line.strip().casefold() for line in text.splitlines()}
        new = [line for line in dict.fromkeys(gaps) if line.casefold() not in have]
        path.write_text(
            text + ("" if text.endswith("\n") else "\n") + "".join(f"{line}\n" for line in new), encoding="utf-8"
        )
        self.stdout.write(f"wrote {len(new)} known gaps to {path}")
