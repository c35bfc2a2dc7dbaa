"""``manage.py benchmark``: the figures in the README, measured on this machine.

1. Indexing throughput (chunks/s) of the real indexing path (chunk → Kiwi → embed →
   store) next to the raw embedding model's throughput on the same chunk texts.
2. Question latency p50/p95 by stage — query embedding, retrieval SQL, answer assembly
   (extractive) — on the sample knowledge base and on the same plus 100,000 synthetic
   chunks (random unit vectors, lexemes drawn Zipf-like from the real vocabulary), so the
   HNSW and GIN indexes do the work at that size.
3. Peak memory (VmHWM) of a real web process (runserver answering the questions over
   HTTP) and a real Celery worker (re-indexing the benchmark articles).

Everything lives in isolated ``bench-*`` collections; the live help centre is untouched.
"""

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from devtools.services import free_port
from knowledge.embeddings import get_provider
from knowledge.importers import articles_import, read_records
from knowledge.models import Article, Chunk, KnowledgeBase
from knowledge.services import article_build_chunks, article_index, articles_mark_for_reindexing
from support.services import question_answer

BENCH_KB, SYNTH_KB = "bench-sample", "bench-synthetic"
GENERIC_QUESTIONS = [
    "환불은 어떻게 신청하나요?", "배송은 며칠 걸리나요?", "비밀번호를 잊어버렸어요", "요금제 가격이 궁금합니다",
    "How do I get a refund?", "How long does shipping take?", "I forgot my password", "How much does the plan cost?",
    "계정을 삭제하려면 어떻게 해야 하나요?", "What are your support hours?",
]  # fmt: skip


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Command(BaseCommand):
    help = "Print indexing throughput, question latency by stage (sample and 100k chunks) and peak memory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--articles", type=Path, default=settings.BASE_DIR / "samples" / "articles")
        parser.add_argument("--synthetic-chunks", type=int, default=100_000)
        parser.add_argument("--repeat", type=int, default=3, help="times each question is asked")
        parser.add_argument("--skip-processes", action="store_true", help="skip the web/worker memory step")

    def handle(self, *args: Any, **opts: Any) -> None:
        provider = get_provider()
        self.stdout.write(
            f"machine: {os.cpu_count()} cores; embedding {provider.name}; fusion {settings.RETRIEVAL_FUSION}"
        )
        kb = self._index_sample(opts["articles"], provider)
        questions = list(Article.objects.filter(knowledge_base=kb).values_list("title", flat=True)) + GENERIC_QUESTIONS
        self._latency("sample", kb, questions * opts["repeat"])
        synth = self._synthetic(kb, opts["synthetic_chunks"])
        self._latency(
            f"{Chunk.objects.filter(knowledge_base=synth).count():,} chunks", synth, questions * opts["repeat"]
        )
        if not opts["skip_processes"]:
            self._memory(kb, questions)

    def _index_sample(self, path: Path, provider: Any) -> KnowledgeBase:
        kb, _ = KnowledgeBase.objects.get_or_create(slug=BENCH_KB, defaults={"name": "Benchmark (sample)"})
        records, errors = read_records(path)
        report = articles_import(records=records, knowledge_base=kb, schedule=False)
        articles = list(Article.objects.filter(pk__in=report.article_ids))
        articles_mark_for_reindexing(article_ids=report.article_ids)
        started = time.perf_counter()
        for article in articles:
            article_index(article_id=article.pk, provider=provider)
        indexing = time.perf_counter() - started
        n_chunks = Chunk.objects.filter(knowledge_base=kb).count()
        texts = [b.text for a in articles for b in article_build_chunks(a)]
        started = time.perf_counter()
        batch = settings.EMBEDDING_BATCH_SIZE
        for i in range(0, len(texts), batch):
            provider.embed_passages(texts[i : i + batch])
        raw = time.perf_counter() - started
        tokens = sum(c.token_count for c in Chunk.objects.filter(knowledge_base=kb).only("token_count"))
        self.stdout.write(
            f"\n## Indexing ({len(articles)} articles from {path.name}, {n_chunks} chunks, "
            f"{tokens / max(n_chunks, 1):.0f} tokens/chunk avg)\n"
            f"| path | chunks/s |\n|---|---|\n"
            f"| indexing (chunk + Kiwi + embed + store) | {n_chunks / indexing:.2f} |\n"
            f"| embedding model alone, same chunks | {len(texts) / raw:.2f} |"
        )
        return kb

    def _latency(self, label: str, kb: KnowledgeBase, questions: list[str]) -> None:
        stages: dict[str, list[float]] = {"embed": [], "sql": [], "answer": [], "total": []}
        question_answer(text=questions[0], knowledge_base=kb, store=False)  # warm models
        for text in questions:
            started = time.perf_counter()
            q = question_answer(text=text, knowledge_base=kb, store=False).question
            stages["total"].append((time.perf_counter() - started) * 1000)
            for stage in ("embed", "sql", "answer"):
                stages[stage].append(q.timings_ms.get(stage, 0.0))
        rows = "\n".join(f"| {stage} | {_pct(v, 50):.1f} | {_pct(v, 95):.1f} |" for stage, v in stages.items())
        self.stdout.write(
            f"\n## Question latency, {label} ({len(questions)} questions, ms)\n"
            f"| stage | p50 | p95 |\n|---|---|---|\n{rows}"
        )

    def _synthetic(self, sample: KnowledgeBase, target: int) -> KnowledgeBase:
        kb, _ = KnowledgeBase.objects.get_or_create(slug=SYNTH_KB, defaults={"name": "Benchmark (synthetic)"})
        have = Chunk.objects.filter(knowledge_base=kb).count()
        if have >= target:
            return kb
        provider = get_provider()
        vocab = [
            t for c in Chunk.objects.filter(knowledge_base=sample).values_list("lexemes", flat=True) for t in c.split()
        ]
        vocab = sorted(set(vocab)) or ["term"]
        rng, nrng = random.Random(7), np.random.default_rng(7)
        weights = [1 / (i + 1) for i in range(len(vocab))]  # Zipf-like term frequencies
        rng.shuffle(vocab)
        dims = provider.dimensions
        self.stderr.write(f"generating {target - have:,} synthetic chunks (one-off; reused next time)…")
        per_article, started = 100, time.perf_counter()
        while have < target:
            article = Article.objects.create(
                knowledge_base=kb, title=f"synthetic {have}", slug=f"synthetic-{have}", body="synthetic",
                status=Article.Status.PUBLISHED, index_state=Article.IndexState.INDEXED, embedding_model=provider.name,
            )  # fmt: skip
            vectors = nrng.normal(size=(per_article, dims)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            chunks = []
            for i in range(per_article):
                terms = rng.choices(vocab, weights=weights, k=60)
                chunks.append(Chunk(
                    article=article, knowledge_base=kb, ordinal=i, content=" ".join(terms), text=" ".join(terms),
                    token_count=60, lexemes=" ".join(terms), lexeme_count=60, embedding=vectors[i],
                    embedding_model=provider.name, embedding_dimensions=dims,
                ))  # fmt: skip
            Chunk.objects.bulk_create(chunks)
            have += per_article
            if have % 10_000 == 0:
                rate = have / (time.perf_counter() - started)
                self.stderr.write(f"  {have:,}/{target:,} chunks ({rate:.0f}/s incl. HNSW inserts)")
        for article in Article.objects.filter(knowledge_base=sample):  # the real articles, searchable among them
            if Article.objects.filter(knowledge_base=kb, slug=article.slug).exists():
                continue
            copy = Article.objects.create(
                knowledge_base=kb, title=article.title, slug=article.slug, body=article.body,
                status=Article.Status.PUBLISHED, published_at=article.published_at,
            )  # fmt: skip
            article_index(article_id=copy.pk)
        with connection.cursor() as cur:
            cur.execute("ANALYZE knowledge_chunk")
        return kb

    def _memory(self, kb: KnowledgeBase, questions: list[str]) -> None:
        import requests

        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        port = free_port()
        web = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(100):
                try:
                    requests.get(f"http://127.0.0.1:{port}/", timeout=1)
                    break
                except requests.RequestException:
                    time.sleep(0.3)
            for text in questions:
                requests.post(f"http://127.0.0.1:{port}/api/v1/questions/", json={"question": text}, timeout=30)
            web_mb = _hwm_mb(web.pid)
        finally:
            web.terminate()
            web.wait(10)
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "-P", "solo", "-l", "warning",
             "--without-gossip", "--without-mingle", "-Q", "benchmark", "-n", "benchmark@%h"],
            cwd=settings.BASE_DIR, env=env,
        )  # fmt: skip
        try:
            from tasks.knowledge import index_article

            ids = list(Article.objects.filter(knowledge_base=kb).values_list("id", flat=True))
            articles_mark_for_reindexing(article_ids=ids)
            for article_id in ids:
                index_article.apply_async((article_id,), queue="benchmark")
            deadline = time.monotonic() + 600
            while Article.objects.filter(pk__in=ids).exclude(index_state=Article.IndexState.INDEXED).exists():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            worker_mb = _hwm_mb(worker.pid)
        finally:
            worker.terminate()
            worker.wait(20)
        self.stdout.write(
            "\n## Peak memory (VmHWM)\n| process | MiB |\n|---|---|\n"
            f"| web (runserver, {len(questions)} questions over HTTP) | {web_mb:.0f} |\n"
            f"| Celery worker (solo pool, re-indexing {len(ids)} articles) | {worker_mb:.0f} |"
        )
