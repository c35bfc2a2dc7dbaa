"""``manage.py calibrate``: pick the answer-confidence threshold (and optionally fit weights)."""

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from support.evaluation.calibration import (
    DEFAULT_L2,
    calibrate,
    calibration_note,
    cross_validate,
    format_calibration,
    format_cross_validation,
)
from support.evaluation.known_wordings import SETTINGS as KNOWN_WORDING_SETTINGS
from support.evaluation.known_wordings import format_sweep, sweep
from support.evaluation.report import evaluation_report, format_table
from support.evaluation.runner import QuestionRecord, records_from_json
from support.management.commands.evaluate import add_evaluation_arguments, run_from_command, write_json
from support.services import answer_policy_store


class Command(BaseCommand):
    help = (
        "Run the evaluation (reusing its index), or read earlier `evaluate --json` outputs (several are "
        "calibrated jointly), then choose the highest confidence threshold that still answers the target "
        "share of in-scope questions; --fit-weights also fits the logistic confidence weights; --folds K "
        "cross-validates both by article and prints the held-out figures per fold; --store writes the "
        "threshold into the answer policy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_evaluation_arguments(parser, exclude_default=0.5)
        parser.add_argument(
            "--from-json", type=Path, nargs="+", default=None,
            help="calibrate from the records of earlier `evaluate --json` outputs instead of running",
        )  # fmt: skip
        parser.add_argument("--target-answered", type=float, default=0.92, help="share of in-scope questions to answer")
        parser.add_argument("--fit-weights", action="store_true", help="fit CONFIDENCE_WEIGHTS by logistic regression")
        parser.add_argument("--l2", type=float, default=DEFAULT_L2, help="L2 penalty of the weight fit")
        parser.add_argument(
            "--balance-sources", action="store_true", help="with --fit-weights: every input file weighs the same"
        )
        parser.add_argument(
            "--balance-pairs", action="store_true",
            help="with --fit-weights: every input file weighs the same, and within it every language pair "
            "(and the unanswerable questions of each language)",
        )  # fmt: skip
        parser.add_argument(
            "--target-source", default=None,
            help="measure --target-answered on this input only (its file name, e.g. the KorQuAD file)",
        )  # fmt: skip
        parser.add_argument("--folds", type=int, default=0, help="cross-validate with K folds by article (K ≥ 2)")
        parser.add_argument("--store", action="store_true", help="write the threshold into the answer policy")
        parser.add_argument(
            "--known-wordings", action="store_true",
            help="instead: re-score the known-wording settings (KNOWN_GAP_MARGIN, KNOWN_GAP_SAME, "
            "KNOWN_WORDING_SIMILARITY, KNOWN_WORDING_MARGIN, KNOWN_WORDING_LEAD_WEIGHT) one at a time on the "
            "records, each chosen leaving one input file out",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        target = options["target_answered"]
        if not 0.0 < target <= 1.0:
            raise CommandError("--target-answered must be in (0, 1]")
        reports = self._reports(options)
        if len(reports) == 1:
            self.stdout.write(format_table(reports[0][1]) + "\n")
        records = [r for name, report in reports for r in records_from_json(report["records"], source=name)]
        if options["known_wordings"]:
            self._known_wordings(reports, records)
            return
        try:
            if options["folds"]:
                folds = cross_validate(
                    records, folds=options["folds"], target=target, fit_weights=options["fit_weights"],
                    l2=options["l2"], seed=options["seed"], balance_sources=options["balance_sources"],
                    balance_pairs=options["balance_pairs"], target_source=options["target_source"],
                )  # fmt: skip
                self.stdout.write(format_cross_validation(folds) + "\n")
            result = calibrate(
                records, target=target, fit_weights=options["fit_weights"], l2=options["l2"],
                balance_sources=options["balance_sources"], balance_pairs=options["balance_pairs"],
                target_source=options["target_source"],
            )  # fmt: skip
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_calibration(result))
        if options["json"]:
            report: dict[str, Any] = reports[0][1] if len(reports) == 1 else {"sources": [n for n, _ in reports]}
            report["calibration"] = {
                "target_answered": target, "threshold": result.threshold, "weights": result.weights,
                "auroc": result.auroc, "curve": [asdict(p) for p in result.curve],
            }  # fmt: skip
            write_json(options["json"], report)
        if not options["store"]:
            return
        if result.threshold is None:
            raise CommandError("nothing stored: the target share can't be reached")
        note = calibration_note(result, source=", ".join(name for name, _ in reports), when=timezone.localtime())
        answer_policy_store(threshold=result.threshold, note=note)
        self.stdout.write(f"\nstored threshold {result.threshold:.6f} in the answer policy: {note}")
        if result.weights is not None:
            self.stdout.write(self.style.WARNING("ship the fitted weights above, or the stored threshold won't fit"))

    def _known_wordings(self, reports: list[tuple[str, dict[str, Any]]], records: list[QuestionRecord]) -> None:
        """Print :func:`~support.evaluation.known_wordings.sweep` of each setting, at the threshold
        the reports were scored at (``CommandError`` when they differ: their outcomes would not be
        comparable)."""
        thresholds = {report.get("escalation", {}).get("threshold") for _, report in reports}
        if len(thresholds) != 1 or None in thresholds:
            raise CommandError("--known-wordings needs reports scored at one threshold (their escalation.threshold)")
        threshold = float(thresholds.pop())
        for name in KNOWN_WORDING_SETTINGS:
            self.stdout.write(format_sweep(sweep(records, threshold, name)) + "\n\n")

    def _reports(self, options: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """``(name, report)`` pairs: a fresh evaluation (``--squad``/``--questions``) or ``--from-json`` files."""
        fresh = bool(options["squad"] or options["questions"])
        if fresh == bool(options["from_json"]):
            raise CommandError("give --squad or --questions, or --from-json (not both)")
        if fresh:
            report = evaluation_report(run_from_command(self, options))
            cfg = report["configuration"]
            return [(Path(cfg.get("questions_file") or cfg["squad_file"]).name, report)]
        found = []
        for path in options["from_json"]:
            try:
                report = json.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CommandError(f"{path}: {exc}") from exc
            if not isinstance(report, dict) or not isinstance(report.get("records"), list):
                raise CommandError(f"{path}: not an `evaluate --json` output (no records)")
            cfg = report.get("configuration", {})
            found.append((Path(cfg.get("questions_file") or cfg.get("squad_file") or path).name, report))
        return found
