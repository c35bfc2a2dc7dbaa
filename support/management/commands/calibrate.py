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
    format_calibration,
)
from support.evaluation.report import evaluation_report, format_table
from support.evaluation.runner import records_from_json
from support.management.commands.evaluate import add_evaluation_arguments, run_from_command, write_json
from support.services import answer_policy_store


class Command(BaseCommand):
    help = (
        "Run the evaluation (reusing its index), then choose the highest confidence threshold that "
        "still answers the target share of in-scope questions; --fit-weights also fits the logistic "
        "confidence weights; --store writes the threshold into the answer policy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_evaluation_arguments(parser, exclude_default=0.5, squad_required=False)
        parser.add_argument(
            "--from-json", type=Path, default=None,
            help="calibrate from the records of an earlier `evaluate --json` output instead of running",
        )  # fmt: skip
        parser.add_argument("--target-answered", type=float, default=0.92, help="share of in-scope questions to answer")
        parser.add_argument("--fit-weights", action="store_true", help="fit CONFIDENCE_WEIGHTS by logistic regression")
        parser.add_argument("--l2", type=float, default=DEFAULT_L2, help="L2 penalty of the weight fit")
        parser.add_argument("--store", action="store_true", help="write the threshold into the answer policy")

    def handle(self, *args: Any, **options: Any) -> None:
        target = options["target_answered"]
        if not 0.0 < target <= 1.0:
            raise CommandError("--target-answered must be in (0, 1]")
        report = self._report(options)
        self.stdout.write(format_table(report) + "\n")
        try:
            records = records_from_json(report["records"])
            result = calibrate(records, target=target, fit_weights=options["fit_weights"], l2=options["l2"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_calibration(result))
        if options["json"]:
            report["calibration"] = {
                "target_answered": target, "threshold": result.threshold, "weights": result.weights,
                "auroc": result.auroc, "curve": [asdict(p) for p in result.curve],
            }  # fmt: skip
            write_json(options["json"], report)
        if not options["store"]:
            return
        if result.threshold is None:
            raise CommandError("nothing stored: the target share can't be reached")
        source = Path(report["configuration"]["squad_file"]).name
        note = calibration_note(result, source=source, when=timezone.localtime())
        answer_policy_store(threshold=result.threshold, note=note)
        self.stdout.write(f"\nstored threshold {result.threshold:.6f} in the answer policy: {note}")
        if result.weights is not None:
            self.stdout.write(self.style.WARNING("ship the fitted weights above, or the stored threshold won't fit"))

    def _report(self, options: dict[str, Any]) -> dict[str, Any]:
        """A fresh evaluation report (``--squad``) or an earlier one (``--from-json``)."""
        if bool(options["squad"]) == bool(options["from_json"]):
            raise CommandError("give exactly one of --squad and --from-json")
        if options["squad"]:
            return evaluation_report(run_from_command(self, options))
        try:
            report = json.loads(Path(options["from_json"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"{options['from_json']}: {exc}") from exc
        if not isinstance(report, dict) or not isinstance(report.get("records"), list):
            raise CommandError(f"{options['from_json']}: not an `evaluate --json` output (no records)")
        return report
