"""``manage.py evaluate``: retrieval, answer and escalation figures on a SQuAD-format file."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from support.evaluation.report import evaluation_report, format_table
from support.evaluation.runner import RETRIEVERS, EvaluationOptions, EvaluationRun, evaluation_run


def add_evaluation_arguments(parser: CommandParser, *, exclude_default: float = 0.0) -> None:
    """Arguments shared by ``evaluate`` and ``calibrate``."""
    parser.add_argument("--squad", type=Path, default=None, help="SQuAD/KorQuAD v1.1 JSON file")
    parser.add_argument(
        "--questions", type=Path, default=None,
        help="customer question set (JSONL, samples/questions/README.md) about the articles in --articles",
    )  # fmt: skip
    parser.add_argument(
        "--articles", type=Path, default=None,
        help="folder of Markdown articles the --questions are about (default: samples/articles)",
    )  # fmt: skip
    parser.add_argument(
        "--exclude-fraction", type=float, default=exclude_default,
        help="share of articles left out of scope (saved as draft, not indexed)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the exclusion and the question order")
    parser.add_argument("--limit-questions", type=int, default=None, help="ask only the first N (after shuffling)")
    parser.add_argument("--retrievers", default=",".join(RETRIEVERS), help="comma-separated: lexical,dense,hybrid")
    parser.add_argument("--json", type=Path, default=None, help="write all figures, configuration and records here")
    parser.add_argument(
        "--learn-from", type=Path, action="append", default=[], metavar="QUESTIONS",
        help="with --questions: first run the learning loop on this question set (repeatable): the wording of "
        "each answerable question it escalates joins its article's also-asked-as lines, and each unanswerable one "
        "it escalates becomes a known gap, as staff do from a ticket",
    )  # fmt: skip
    parser.add_argument(
        "--learn-unhelpful", action="store_true",
        help="with --learn-from: an answer that was not right comes back as a ticket too (the customer said "
        "\"No\" under it) and teaches by the same rules",
    )  # fmt: skip


def options_from(options: dict[str, Any]) -> EvaluationOptions:
    """Validated :class:`EvaluationOptions` from parsed arguments; ``CommandError`` if invalid."""
    retrievers = tuple(dict.fromkeys(r.strip() for r in options["retrievers"].split(",") if r.strip()))
    unknown = [r for r in retrievers if r not in RETRIEVERS]
    if unknown:
        raise CommandError(f"unknown retriever(s) {', '.join(unknown)}; use {', '.join(RETRIEVERS)}")
    if not 0.0 <= options["exclude_fraction"] < 1.0:
        raise CommandError("--exclude-fraction must be in [0, 1)")
    if options["limit_questions"] is not None and options["limit_questions"] < 1:
        raise CommandError("--limit-questions must be at least 1")
    questions = options.get("questions")
    learn_from = tuple(options.get("learn_from") or ())
    if learn_from and questions is None:
        raise CommandError("--learn-from goes with --questions")
    if options.get("learn_unhelpful") and not learn_from:
        raise CommandError("--learn-unhelpful goes with --learn-from")
    if questions is not None:
        source = options.get("articles") or settings.BASE_DIR / "samples" / "articles"
    elif options.get("articles") is not None:
        raise CommandError("--articles goes with --questions")
    else:
        source = options["squad"]
    if source is None:
        raise CommandError("give --squad FILE, or --questions FILE [--articles DIR]")
    return EvaluationOptions(
        squad_path=source, questions_path=questions,
        exclude_fraction=options["exclude_fraction"], seed=options["seed"],
        limit_questions=options["limit_questions"], retrievers=retrievers,  # type: ignore[arg-type]
        learn_from=learn_from, learn_unhelpful=bool(options.get("learn_unhelpful")),
    )  # fmt: skip


def stderr_writer(command: BaseCommand) -> Callable[[str], None]:
    """Raw progress text (carriage returns, no newline added) onto the command's stderr, flushed."""

    def write(text: str) -> None:
        command.stderr.write(text, ending="")
        command.stderr.flush()

    return write


def run_from_command(command: BaseCommand, options: dict[str, Any]) -> EvaluationRun:
    """Run the evaluation with progress on the command's stderr; file errors -> ``CommandError``."""
    try:
        return evaluation_run(options=options_from(options), write=stderr_writer(command))
    except (FileNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from exc


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


class Command(BaseCommand):
    help = (
        "Evaluate retrieval (recall@1/5/20, MRR per retriever), answers (EM/F1) and escalation "
        "(AUROC, answered/escalated shares) on a SQuAD/KorQuAD v1.1 file, in an isolated "
        "collection named after the file's hash. Re-runs reuse its index."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_evaluation_arguments(parser)
        parser.add_argument(
            "--conversations", type=Path, default=None,
            help="multi-turn conversations (JSONL) about --articles: follow-up figures with and without context",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        if options["conversations"] is not None:
            self._conversations(options)
            return
        report = evaluation_report(run_from_command(self, options))
        self.stdout.write(format_table(report))
        if options["json"]:
            write_json(options["json"], report)
            self.stdout.write(f"\nwrote {options['json']}")

    def _conversations(self, options: dict[str, Any]) -> None:
        from support.evaluation.conversations import conversations_evaluate, format_conversations

        articles = options.get("articles") or settings.BASE_DIR / "samples" / "articles"
        try:
            report = conversations_evaluate(
                conversations_path=options["conversations"], articles_path=articles, write=stderr_writer(self)
            )
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_conversations(report))
        if options["json"]:
            write_json(options["json"], report)
            self.stdout.write(f"\nwrote {options['json']}")
