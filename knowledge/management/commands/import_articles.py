from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from knowledge.embeddings import get_provider
from knowledge.importers import KNOWN_GAPS_FILE, articles_import, read_known_gaps, read_records
from knowledge.models import Article, KnowledgeBase
from knowledge.services import knowledge_base_get_live, known_gaps_add_lines


class Command(BaseCommand):
    help = (
        "Import articles from a .json/.jsonl file (title, body, published_at, url, language), "
        "a folder of Markdown files with front matter, or a SQuAD/KorQuAD v1.1 .json file. "
        "Bad records are reported with their line/record number; good ones still import; "
        "re-running updates instead of duplicating. Changed articles are queued for indexing. "
        f"A folder's {KNOWN_GAPS_FILE} (questions no article answers, one per line) adds its new known gaps."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--knowledge-base", default="", help="collection slug (default: the live help centre)")
        parser.add_argument("--draft", action="store_true", help="import as drafts instead of published")

    def handle(self, *args: Any, path: Path, knowledge_base: str, draft: bool, **options: Any) -> None:
        try:
            records, errors = read_records(path)
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if draft:
            from dataclasses import replace

            records = [replace(r, status=Article.Status.DRAFT) for r in records]
        kb = (
            KnowledgeBase.objects.get_or_create(slug=knowledge_base, defaults={"name": knowledge_base})[0]
            if knowledge_base
            else knowledge_base_get_live()
        )
        report = articles_import(records=records, knowledge_base=kb)
        for error in errors:
            self.stderr.write(f"skipped {error}")
        self.stdout.write(
            f"{path}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
            f"{len(errors)} skipped; changed articles are queued for indexing."
        )
        if errors and not records:
            raise CommandError("no valid records")
        self._import_gaps(path, kb)

    def _import_gaps(self, path: Path, kb: KnowledgeBase) -> None:
        lines = list(dict.fromkeys(read_known_gaps(path)))
        if not lines:
            return
        added, refused = known_gaps_add_lines(knowledge_base=kb, lines=lines, provider=get_provider())
        for message in refused:
            self.stderr.write(f"{KNOWN_GAPS_FILE}: skipped {message}")
        self.stdout.write(
            f"{path / KNOWN_GAPS_FILE}: {added} known gaps added, {len(lines) - added - len(refused)} already "
            f"known, {len(refused)} skipped."
        )
