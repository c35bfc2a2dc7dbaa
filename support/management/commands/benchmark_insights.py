"""``manage.py benchmark_insights``: the insights dashboard at 100,000 questions, and internal search.

Everything happens inside one transaction that is rolled back at the end, so nothing is
left behind. The machine's load average is printed with the figures: on a shared machine
the same query takes twice as long at load 6 as at load 1.

1. **Internal search** at the sample scale: the articles of ``--articles`` (default
   ``samples/articles``) imported into the live help centre and indexed in-process (only
   those not indexed already, so a demo database is reused; about 1 s per chunk on a
   2-core CPU), plus a few answered tickets. Then Korean and English queries, each asked
   ``--search-repeat`` times, through :func:`support.search.staff_search` (what the
   ``/admin/search/`` view calls) and through the whole view with Django's test client.
   The first query embedding (the model loading) and the first search are timed apart.
2. **Dashboard**: ``--questions`` questions spread over the last ``--days`` days (about
   70 % answered, a third escalated to tickets of which half were replied to, a tenth
   rated, sources citing ten articles). The page ``/admin/insights/`` is requested with
   Django's test client (real middleware, view and template) as a member of *Support
   agents*: the first request, then ``--repeat`` more for p50/p95, with the SQL query count
   and the SQL share of the time; ``insights_for`` alone the same way. ``--explain`` prints
   ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest query of the last request.

Generated rows are written in the same, uncommitted transaction, so PostgreSQL cannot mark
their pages all-visible and the covering index ``question_period`` cannot give index-only
scans here as it does on a vacuumed table: the dashboard figures are an upper bound.
"""

from __future__ import annotations

import functools
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from knowledge.embeddings import get_provider
from knowledge.importers import articles_import, read_records
from knowledge.models import Article
from knowledge.services import article_index, article_needs_indexing, knowledge_base_get_live
from support.insights.selectors import Period, insights_for
from support.models import EmailDelivery, Feedback, Question, Ticket
from support.roles import SUPPORT_AGENTS
from support.search import staff_search

BATCH = 5_000
SEARCH_TARGET_MS = 200
PAGE_TARGET_MS = 1000
SEARCH_QUERIES = [
    "환불은 어떻게 받나요?", "배송비는 얼마인가요", "비밀번호를 잊어버렸어요", "주문을 취소하고 싶어요",
    "포인트 유효기간", "회원 탈퇴 방법", "How do I get a refund?", "How much is shipping?",
    "I forgot my password", "Can I exchange for another size?", "What payment methods do you accept?",
    "When is customer service open?",
]  # fmt: skip
ANSWERED_TICKETS = [
    ("환불 계좌를 바꾸고 싶어요", "환불 계좌는 마이페이지 > 환불 계좌에서 바꿀 수 있습니다."),
    ("배송비가 두 번 청구됐어요", "중복 청구된 배송비는 3영업일 안에 환불됩니다."),
    ("비밀번호 재설정 메일이 안 와요", "스팸함을 확인하시고, 없으면 재설정을 다시 요청해 주세요."),
    ("My refund has not arrived", "Refunds reach your card within 3-5 business days after approval."),
    ("The password reset link expired", "Reset links are valid for 30 minutes; request a new one."),
    ("Shipping fee charged twice", "The duplicate shipping fee was refunded to your card."),
]


class Rollback(Exception):
    """Raised to roll the generated rows back."""


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default), ``nan`` for no values."""
    return float(np.percentile(values, q)) if values else float("nan")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


class Command(BaseCommand):
    help = "Time the insights dashboard at 100,000 generated questions and internal search (all rolled back)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--questions", type=int, default=100_000)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--repeat", type=int, default=10, help="warm requests after the first one")
        parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest dashboard query")
        parser.add_argument("--no-search", dest="search", action="store_false", help="skip internal search")
        parser.add_argument("--search-repeat", type=int, default=3, help="times each search query is asked")
        parser.add_argument("--articles", type=Path, default=settings.BASE_DIR / "samples" / "articles")

    def handle(self, *args: Any, **opts: Any) -> None:
        self.verbosity = opts["verbosity"]
        self.stdout.write(f"machine: {load_average()}")
        try:
            with transaction.atomic():
                client = Client()
                client.force_login(self._agent())
                if opts["search"]:
                    self._search(client, opts["articles"], opts["search_repeat"])
                self._generate(opts["questions"], opts["days"])
                self._dashboard(client, opts["days"], opts["repeat"], opts["explain"])
                raise Rollback
        except Rollback:
            self.stdout.write("generated rows rolled back")

    def _agent(self) -> User:
        user = User.objects.create_user("bench-insights", "bench@example.com", is_staff=True)
        user.groups.add(Group.objects.get(name=SUPPORT_AGENTS))
        assert user.has_perm("support.view_insights")
        return user

    # --- internal search ---------------------------------------------------------------

    def _search(self, client: Client, articles: Path, repeat: int) -> None:
        provider = get_provider()
        started = time.perf_counter()
        provider.embed_query("warm-up")
        warm_up = (time.perf_counter() - started) * 1000
        kb = knowledge_base_get_live()
        records, _errors = read_records(articles)
        report = articles_import(records=records, knowledge_base=kb, schedule=False)
        started, indexed = time.perf_counter(), 0
        for article in Article.objects.filter(pk__in=report.article_ids, status=Article.Status.PUBLISHED):
            if article_needs_indexing(article, provider.name):
                article_index(article_id=article.pk, provider=provider)
                indexed += 1
        indexing = time.perf_counter() - started
        for text, reply in ANSWERED_TICKETS:
            question = Question.objects.create(text=text, status=Question.Status.NOT_CONFIDENT)
            Ticket.objects.create(question=question, email="bench@example.com", reason="low_confidence", reply=reply)
        self.stdout.write(
            f"\n## Internal search ({len(report.article_ids)} articles from {articles.name}, {indexed} indexed now "
            f"in {indexing:.0f}s, {len(ANSWERED_TICKETS)} answered tickets; target {SEARCH_TARGET_MS} ms)\n"
            f"first query embedding (loads {provider.name}): {warm_up:.0f} ms"
        )
        started = time.perf_counter()
        hits = staff_search(SEARCH_QUERIES[0])
        self.stdout.write(
            f"first search (loads Kiwi): {(time.perf_counter() - started) * 1000:.0f} ms, "
            f"{len(hits)} hits for {SEARCH_QUERIES[0]!r}"
        )
        queries = SEARCH_QUERIES * repeat
        self._report("staff_search()", [self._timed(functools.partial(staff_search, q))[0] for q in queries],
                     SEARCH_TARGET_MS)  # fmt: skip

        def view(q: str) -> None:
            response = client.get("/admin/search/", {"q": q})
            assert response.status_code == 200 and b'id="search-results"' in response.content, response.status_code

        self._report("/admin/search/ (test client)", [self._timed(functools.partial(view, q))[0] for q in queries],
                     SEARCH_TARGET_MS)  # fmt: skip

    # --- dashboard ---------------------------------------------------------------------

    def _generate(self, n: int, days: int) -> None:
        rng = random.Random(8)
        started = time.perf_counter()
        kb = knowledge_base_get_live()
        articles = Article.objects.bulk_create(
            Article(knowledge_base=kb, title=f"bench article {i}", slug=f"bench-insights-{i}", body="x",
                    status=Article.Status.PUBLISHED)
            for i in range(10)
        )  # fmt: skip
        statuses = [Question.Status.ANSWERED] * 7 + [Question.Status.NOT_CONFIDENT] * 2 + [Question.Status.NO_SOURCES]
        first_id = None
        for offset in range(0, n, BATCH):
            rows = []
            for _ in range(min(BATCH, n - offset)):
                status = rng.choice(statuses)
                article = rng.choice(articles)
                rows.append(Question(
                    text="벤치마크 질문", language="ko", status=status, answer="답" if status == "answered" else "",
                    confidence=rng.random(), escalation_recommended=status != "answered",
                    sources=[{"article_id": article.pk, "title": article.title, "cited": status == "answered"}],
                ))  # fmt: skip
            created = Question.objects.bulk_create(rows)
            first_id = first_id or created[0].pk
        table, ticket_table = Question._meta.db_table, Ticket._meta.db_table
        with connection.cursor() as cursor:
            # auto_now_add ignores given values: spread created_at over the period in SQL.
            cursor.execute(
                f"UPDATE {table} SET created_at = now() - random() * %s * interval '1 day' WHERE id >= %s",
                [days - 1, first_id],
            )
        ids = list(Question.objects.filter(pk__gte=first_id).values_list("pk", "status"))
        escalated = [pk for pk, status in ids if status != "answered" or rng.random() < 0.05]
        # Numbered references: 33,000 random 32-bit ones collide about one run in eight.
        tickets = Ticket.objects.bulk_create(
            Ticket(question_id=pk, reference=f"T-BENCH{i:07d}", email="bench@example.com",
                   reason=Ticket.Reason.LOW_CONFIDENCE)
            for i, pk in enumerate(escalated)
        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {ticket_table} t SET created_at = q.created_at + interval '5 minutes' "
                f"FROM {table} q WHERE t.question_id = q.id AND q.id >= %s",
                [first_id],
            )
        EmailDelivery.objects.bulk_create(
            EmailDelivery(ticket=t, kind=EmailDelivery.Kind.REPLY, recipient=t.email, body="답", state="sent")
            for t in tickets[::2]
        )
        Feedback.objects.bulk_create(
            Feedback(question_id=pk, helpful=rng.random() < 0.7) for pk, status in ids[::10] if status == "answered"
        )
        with connection.cursor() as cursor:
            for model in (Question, Ticket, EmailDelivery, Feedback):
                cursor.execute(f"ANALYZE {model._meta.db_table}")
        self.stdout.write(
            f"\n## Insights dashboard (target {PAGE_TARGET_MS} ms)\n"
            f"generated {n:,} questions, {len(tickets):,} tickets, {Feedback.objects.count():,} feedback "
            f"in {time.perf_counter() - started:.1f}s"
        )

    def _dashboard(self, client: Client, days: int, repeat: int, explain: bool) -> None:
        period = Period.last_days(days)
        url = "/admin/insights/" + (f"?days={days}" if days in (7, 30, 90) else "")

        def page() -> None:
            response = client.get(url)
            assert response.status_code == 200 and b'id="per-day"' in response.content, response.status_code

        first, first_queries = self._timed(page)
        first_sql = sum(float(q["time"]) for q in first_queries) * 1000
        self.stdout.write(
            f"first request (cold): {first:.0f} ms, {len(first_queries)} SQL queries, SQL {first_sql:.0f} ms; "
            f"{load_average()}"
        )
        runs = [self._timed(page) for _ in range(repeat)]
        sql = [sum(float(q["time"]) for q in queries) * 1000 for _, queries in runs]
        self._report(
            "whole page (view + template)", [ms for ms, _ in runs], PAGE_TARGET_MS,
            f", {len(runs[-1][1])} SQL queries, SQL p50 {percentile(sql, 50):.0f} ms",
        )  # fmt: skip
        direct = [self._timed(lambda: insights_for(period)) for _ in range(repeat)]
        self._report("queries (insights_for)", [ms for ms, _ in direct], PAGE_TARGET_MS,
                     f", {len(direct[-1][1])} SQL queries")  # fmt: skip
        slowest = sorted(runs[-1][1], key=lambda q: -float(q["time"]))
        if self.verbosity > 1:
            for query in slowest[:5]:
                self.stdout.write(f"  {float(query['time']) * 1000:7.0f} ms  {' '.join(query['sql'].split())[:150]}")
        if explain and slowest:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest[0]["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
            self.stdout.write(f"\nEXPLAIN ANALYZE of the slowest query:\n{slowest[0]['sql']}\n{plan}")

    # --- helpers -----------------------------------------------------------------------

    def _timed(self, call: Callable[[], Any]) -> tuple[float, list[dict[str, Any]]]:
        """``call``'s wall time in ms and the SQL queries it sent."""
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            call()
            elapsed = (time.perf_counter() - started) * 1000
        return elapsed, queries.captured_queries

    def _report(self, label: str, timings: list[float], target: int, extra: str = "") -> None:
        p95 = percentile(timings, 95)
        verdict = "under" if p95 < target else "OVER"
        self.stdout.write(
            f"{label}: median {percentile(timings, 50):.0f} ms, p95 {p95:.0f} ms, max {max(timings):.0f} ms "
            f"({len(timings)} runs{extra}); p95 {verdict} {target} ms; {load_average()}"
        )
