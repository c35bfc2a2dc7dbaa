"""``manage.py benchmark_stream``: how soon a streamed answer starts, through a real HTTP server.

Imports ``samples/articles`` into the live help centre and indexes them in-process (both
idempotent), starts the fake OpenAI server (:mod:`devtools.fake_openai`) streaming a
fixed answer at ``--tokens-per-second``, serves the portal's WSGI application from a
threaded HTTP server in this process (Django's runserver server class), and sends
``--questions`` questions from ``samples/questions/nabi-market.jsonl`` (answerable ones
that retrieval is confident about, in file order, repeated as needed) to
``POST /api/v1/questions/`` with ``Accept: text/event-stream``, ``--concurrency`` at a
time. It prints p50/p95 of the time from sending the request to the first ``sources``
event, the first ``delta`` and the ``done`` event, in milliseconds. The questions it asked
are deleted afterwards, so they never show up as customer traffic on the dashboard.

``--url`` sends the questions to a server that is already running (e.g. gunicorn started
with ``OPENAI_BASE_URL`` pointing at ``--fake-port``) instead of the in-process one: that is
how the gunicorn thread count was measured (README, "Streaming").
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from threading import Thread
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandParser
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.test.utils import override_settings

from devtools.fake_openai import running_fake_openai
from knowledge.importers import articles_import, read_records
from knowledge.models import Article
from knowledge.services import article_index, knowledge_base_get_live
from knowledge.warmup import models_warm
from support.answering import get_chat_provider
from support.models import Conversation, Question
from support.services import question_answer

SAMPLES = Path(settings.BASE_DIR) / "samples"
# About 75 tokens of reply (4 characters each in the fake), 60 of them the answer.
ANSWER = (
    "You can reset your password from the login screen: choose Forgot password, enter the email address "
    "of your account and open the link we send you. The link stays valid for 30 minutes; after five wrong "
    "passwords the account is locked for 30 minutes."
)


@dataclass
class Timing:
    sources_ms: float | None = None
    delta_ms: float | None = None
    done_ms: float | None = None
    status: str = ""
    question_id: int = 0


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0–100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ask_streamed(base_url: str, question: str, timeout: float = 120.0) -> Timing:
    """POST one question with ``Accept: text/event-stream``; times its events as they arrive
    (``http.client`` reads chunked bodies, as gunicorn sends them, piece by piece)."""
    url = urlsplit(base_url)
    body = json.dumps({"question": question})
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream", "Connection": "close"}
    timing, buffer = Timing(), b""
    started = time.perf_counter()
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=timeout)
    try:
        conn.request("POST", "/api/v1/questions/", body, headers)
        response = conn.getresponse()
        while received := response.read1(65536):
            buffer += received
            now = (time.perf_counter() - started) * 1000
            frames = buffer.split(b"\n\n")[:-1]  # complete frames only
            names = [frame.split(b"\n", 1)[0] for frame in frames]
            if timing.sources_ms is None and b"event: sources" in names:
                timing.sources_ms = now
            if timing.delta_ms is None and b"event: delta" in names:
                timing.delta_ms = now
            if b"event: done" in names:
                timing.done_ms = now
                done = json.loads(frames[names.index(b"event: done")].split(b"data: ", 1)[1])
                timing.status, timing.question_id = str(done["status"]), int(done["id"])
                break
    finally:
        conn.close()
    if timing.done_ms is None:
        timing.status = f"no done: HTTP {response.status} {buffer[:100]!r}"
    return timing


class Command(BaseCommand):
    help = "Time streamed answers (first sources, first delta, done) against a fake chat model at a fixed token rate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--questions", type=int, default=20, help="how many questions (default 20)")
        parser.add_argument("--tokens-per-second", type=float, default=50.0, help="the fake model's pace (50)")
        parser.add_argument("--concurrency", type=int, default=1, help="questions in flight at once (1)")
        parser.add_argument("--url", default="", help="an already running server instead of the in-process one")
        parser.add_argument("--fake-port", type=int, default=0, help="port of the fake OpenAI server (0: any)")

    def handle(self, *args: Any, **opts: Any) -> None:
        logging.getLogger("httpx2").setLevel(logging.WARNING)  # one INFO line per model call otherwise
        self._index_samples()
        questions = self._questions(opts["questions"])
        models_warm()
        with running_fake_openai(
            tokens_per_second=opts["tokens_per_second"], port=opts["fake_port"],
            default_content={"answer": ANSWER, "cited_sources": [1], "answerable": True},
        ) as fake, override_settings(
            CHAT_PROVIDER="openai", OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="benchmark", OPENAI_MAX_RETRIES=0,
            ASK_RATE_LIMIT="1000000/m",
        ):  # fmt: skip
            self.stdout.write(f"fake OpenAI at {fake.base_url}, {opts['tokens_per_second']:g} tokens/s")
            if opts["url"]:
                timings = self._run(opts["url"], questions, opts["concurrency"])
            else:
                server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler)
                server.set_app(WSGIHandler())
                thread = Thread(target=server.serve_forever, daemon=True)
                thread.start()
                try:
                    base = f"http://127.0.0.1:{server.server_address[1]}"
                    warm = ask_streamed(base, questions[0])  # warm-up: first-request costs are not what we measure
                    timings = self._run(base, questions, opts["concurrency"])
                finally:
                    server.shutdown()
                    server.server_close()
                timings_all = [warm, *timings]
            answer_tokens = math.ceil(len(json.dumps({"answer": ANSWER})) / fake.chars_per_token)
        self._report(timings, opts, answer_tokens)
        if not opts["url"]:
            self._forget(timings_all)

    def _forget(self, timings: list[Timing]) -> None:
        """Delete the benchmark's questions (and their one-question conversations), so they never
        count as customer traffic on the insights dashboard. ``--url`` runs are left alone: the
        server there may be another database."""
        ids = [t.question_id for t in timings if t.question_id]
        conversations = list(Question.objects.filter(pk__in=ids).values_list("conversation_id", flat=True))
        deleted, _ = Question.objects.filter(pk__in=ids).delete()
        Conversation.objects.filter(pk__in=conversations, questions__isnull=True).delete()
        self.stdout.write(f"deleted the benchmark's {deleted} stored rows (questions and what hangs on them)")

    def _index_samples(self) -> None:
        records, _ = read_records(SAMPLES / "articles")
        kb = knowledge_base_get_live()
        articles_import(records=records, knowledge_base=kb, schedule=False)
        for article in Article.objects.filter(knowledge_base=kb, slug__in=[r.slug for r in records if r.slug]):
            article_index(article_id=article.pk)  # does nothing when already indexed

    def _questions(self, n: int) -> list[str]:
        """``n`` answerable sample questions that retrieval is confident about (a dry run with the
        extractive answerer, nothing stored): below the threshold no model is called, nothing streams."""
        lines = (SAMPLES / "questions" / "nabi-market.jsonl").read_text().splitlines()
        answerable = [row["question"] for row in map(json.loads, lines) if row["answerable"]]
        extractive = get_chat_provider("extractive")
        confident = [
            q
            for q in answerable
            if question_answer(text=q, provider=extractive, store=False).question.status == Question.Status.ANSWERED
        ]
        self.stdout.write(f"{len(confident)} of {len(answerable)} answerable sample questions are above the threshold")
        return [confident[i % len(confident)] for i in range(n)]

    def _run(self, base: str, questions: list[str], concurrency: int) -> list[Timing]:
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            return list(pool.map(lambda q: ask_streamed(base, q), questions))

    def _report(self, timings: list[Timing], opts: dict[str, Any], answer_tokens: int) -> None:
        statuses: dict[str, int] = {}
        for t in timings:
            statuses[t.status] = statuses.get(t.status, 0) + 1
        self.stdout.write(
            f"{len(timings)} streamed questions, concurrency {opts['concurrency']}, fake model "
            f"{opts['tokens_per_second']:g} tokens/s, reply ~{answer_tokens} tokens; statuses {statuses}"
        )
        for label, values in (
            ("first sources", [t.sources_ms for t in timings]),
            ("first delta", [t.delta_ms for t in timings]),
            ("done", [t.done_ms for t in timings]),
        ):
            seen = [v for v in values if v is not None]
            if seen:
                self.stdout.write(
                    f"{label:>13}: p50 {percentile(seen, 50):7.0f} ms   p95 {percentile(seen, 95):7.0f} ms   "
                    f"(n={len(seen)})"
                )
            else:
                self.stdout.write(f"{label:>13}: none")
