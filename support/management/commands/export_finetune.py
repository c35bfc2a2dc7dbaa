"""``manage.py export_finetune``: approved question–answer pairs as validated fine-tuning JSONL.

    python manage.py export_finetune --out train.jsonl [--validation-out val.jsonl
        --validation-fraction 0.1 --seed N] [--source db|squad] [--squad PATH]
        [--format chat|completion] [--epochs 3]

See :mod:`support.finetune` for the sources, formats and the validation. Nothing is
written unless at least one valid example remains; files are replaced atomically.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from support import finetune


class Command(BaseCommand):
    help = "Export approved question-answer pairs (or a SQuAD file) as OpenAI fine-tuning JSONL, validated."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, required=True, help="training JSONL to write")
        parser.add_argument("--validation-out", type=Path, help="also write a held-out validation JSONL")
        parser.add_argument("--validation-fraction", type=float, default=0.1)
        parser.add_argument("--seed", type=int, default=0, help="shuffle seed for the split")
        parser.add_argument("--source", choices=["db", "squad"], default="db")
        parser.add_argument("--squad", type=Path, help="SQuAD/KorQuAD v1.1 JSON (with --source squad)")
        parser.add_argument("--format", choices=["chat", "completion"], default="chat")
        parser.add_argument("--epochs", type=int, default=3, help="epochs for the billed-token estimate")
        parser.add_argument("--max-tokens", type=int, default=finetune.MAX_TOKENS_PER_EXAMPLE)

    def handle(self, *args: Any, **opts: Any) -> None:
        if not 0 < opts["validation_fraction"] < 1:
            raise CommandError("--validation-fraction must be between 0 and 1 (exclusive).")
        if opts["epochs"] < 1:
            raise CommandError("--epochs must be at least 1.")
        if opts["validation_out"] and opts["validation_out"].resolve() == opts["out"].resolve():
            raise CommandError("--validation-out must differ from --out.")
        pairs = self._pairs(opts)
        prepared = finetune.prepare(pairs, opts["format"], opts["max_tokens"])
        self.stdout.write(f"{len(pairs)} pairs from {opts['source']}; {len(prepared.examples)} valid examples")
        for reason, count in sorted(prepared.dropped.items()):
            self.stdout.write(f"  dropped {count}: {reason}")
        if not prepared.examples:
            raise CommandError("No valid examples remain after validation; nothing was written.")
        if opts["validation_out"]:
            train, val = finetune.split(prepared, opts["validation_fraction"], opts["seed"])
        else:
            train, val = prepared, finetune.Prepared()
        if len(train.examples) < finetune.MIN_EXAMPLES:
            self.stderr.write(
                self.style.WARNING(
                    f"warning: only {len(train.examples)} training examples; OpenAI requires at least "
                    f"{finetune.MIN_EXAMPLES} (50-100 well-chosen ones usually show an improvement)."
                )
            )
        finetune.write_jsonl(opts["out"], train.examples)
        self._report("training", opts["out"], train)
        if opts["validation_out"]:
            finetune.write_jsonl(opts["validation_out"], val.examples)
            self._report("validation", opts["validation_out"], val)
        billed = finetune.billed_tokens(train, opts["epochs"], opts["max_tokens"])
        self.stdout.write(f"billed training tokens for {opts['epochs']} epochs: {billed:,}")

    def _pairs(self, opts: dict[str, Any]) -> list[finetune.Pair]:
        if opts["source"] == "squad":
            if not opts["squad"]:
                raise CommandError("--source squad needs --squad PATH.")
            try:
                return finetune.squad_pairs(opts["squad"])
            except (FileNotFoundError, ValueError) as exc:
                raise CommandError(str(exc)) from exc
        pairs = finetune.db_pairs()
        if not pairs:
            raise CommandError(
                "No approved question-answer pairs: no ticket has a sent reply yet. Nothing was written."
            )
        return pairs

    def _report(self, label: str, path: Path, prepared: finetune.Prepared) -> None:
        tokens = prepared.tokens
        spread = f" (per example min {min(tokens)}, median {statistics.median(tokens):.0f}, max {max(tokens)})"
        self.stdout.write(
            f"{label}: {len(prepared.examples)} examples, {sum(tokens):,} tokens{spread if tokens else ''} -> {path}"
        )
