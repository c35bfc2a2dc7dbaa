"""``manage.py benchmark_insights``: the insights dashboard's time with 100,000 questions in its period.

Generates ``--questions`` questions spread over the last ``--days`` days (about 70 %
answered, a sixth escalated to tickets of which half replied, a tenth rated, sources
citing ten articles), all inside one transaction that is rolled back at the end, so
nothing is left behind. Then it times, ``--repeat`` times each, the dashboard's queries
(``insights_for``) and the whole page (view + template, as a superuser), and prints the
median and the slowest run in milliseconds with the number of SQL queries.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from knowledge.models import Article
from knowledge.services import knowledge_base_get_live
from support.insights.selectors import Period, insights_for
from support.insights.views import dashboard
from support.models import EmailDelivery, Feedback, Question, Ticket

BATCH = 5_000


class Rollback(Exception):
    """Raised to roll the generated rows back."""


class Command(BaseCommand):
    help = "Time the insights dashboard with generated questions (rolled back afterwards)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--questions", type=int, default=100_000)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--repeat", type=int, default=5)

    def handle(self, *args: Any, **opts: Any) -> None:
        self.verbose = opts["verbosity"] > 1
        try:
            with transaction.atomic():
                self._run(opts["questions"], opts["days"], opts["repeat"])
                raise Rollback
        except Rollback:
            self.stdout.write("generated rows rolled back")

    def _run(self, n: int, days: int, repeat: int) -> None:
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
        tickets = Ticket.objects.bulk_create(
            Ticket(question_id=pk, email="bench@example.com", reason=Ticket.Reason.LOW_CONFIDENCE) for pk in escalated
        )
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
            f"generated {n:,} questions, {len(tickets):,} tickets, {Feedback.objects.count():,} feedback "
            f"in {time.perf_counter() - started:.1f}s"
        )
        period = Period.last_days(days)
        self._time("queries (insights_for)", repeat, lambda: insights_for(period))
        user = User.objects.create_superuser("bench-insights", "bench@example.com", "bench-password-unused")
        factory = RequestFactory()

        def page() -> None:
            request = factory.get("/admin/insights/", {"days": str(days)} if days in (7, 30, 90) else {})
            request.user = user
            response = dashboard(request)
            assert response.status_code == 200, response.status_code

        self._time("whole page (view + template)", repeat, page)

    def _time(self, label: str, repeat: int, call: Any) -> None:
        call()  # warm caches and the plan
        timings = []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                call()
                timings.append((time.perf_counter() - started) * 1000)
        self.stdout.write(
            f"{label}: median {statistics.median(timings):.0f} ms, max {max(timings):.0f} ms "
            f"({repeat} runs, {len(queries)} SQL queries)"
        )
        if self.verbose:  # the last run's queries, slowest first
            for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:5]:
                self.stdout.write(f"  {float(query['time']) * 1000:7.0f} ms  {query['sql'][:150]}")
