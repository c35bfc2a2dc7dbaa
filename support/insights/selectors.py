"""Reads for the insights dashboard: every figure is one SQL aggregation over a period.

Definitions (the support field's usual ones, made precise here):

- **questions**: customer questions created in the period (``Question.created_at``, in
  the portal's time zone); evaluation rows are never stored, so all are real.
- **answered**: the answer was shown (status ``answered``).
- **escalated**: the question has a ticket (whatever its status), counted once per
  question; "by reason" groups those tickets by ``Ticket.reason``.
- **deflection rate**: questions answered and not escalated afterwards (no ticket),
  divided by all questions of the period.
- **helpful rate**: feedback saying "yes" divided by all feedback on the period's questions.
- **median confidence**: PostgreSQL ``percentile_cont(0.5)`` over questions that have one.
- **tickets opened**: tickets created in the period; **time to first reply** is the first
  reply email's creation (``EmailDelivery`` kind ``reply``), or ``Ticket.replied_at`` for
  a ticket without one, minus ``Ticket.created_at``; the median is over replied tickets.
- **cited articles**: sources marked ``cited`` on answered questions of the period, counted
  once per question; "not cited" lists published help-centre articles with no such citation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Min,
    Q,
    QuerySet,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from knowledge.models import Article
from knowledge.services import knowledge_base_get_live
from support.models import EmailDelivery, Feedback, Question, Ticket


class Percentile(Aggregate):
    """PostgreSQL's ordered-set aggregate ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expr)``.

    Continuous (interpolated) percentile, so the median of an even count is the mean of
    the middle two. ``fraction`` in [0, 1]; NULLs are ignored; no rows gives NULL. Works on
    numbers and on intervals (pass ``output_field=DurationField()``).
    """

    function = "percentile_cont"
    name = "Percentile"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {fraction}")
        extra.setdefault("output_field", FloatField())
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


# The per-day counts, named as the fields of Insights.
COUNTS = ("questions", "answered", "not_answered", "escalated", "deflected", "feedback", "helpful")


@dataclass(frozen=True)
class Period:
    """Whole days ``start``..``end`` (inclusive) in the portal's time zone."""

    start: dt.date
    end: dt.date

    @classmethod
    def last_days(cls, days: int, today: dt.date | None = None) -> Period:
        """The ``days`` days ending today (today included)."""
        today = today or timezone.localdate()
        return cls(start=today - dt.timedelta(days=days - 1), end=today)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Aware datetimes ``[start 00:00, end+1 00:00)`` in the current time zone."""
        tz = timezone.get_current_timezone()
        start = dt.datetime.combine(self.start, dt.time.min, tzinfo=tz)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        return start, end

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]


@dataclass
class Insights:
    """The dashboard's figures for one period; rates are in [0, 1] or None when undefined."""

    period: Period
    questions: int = 0
    answered: int = 0
    not_answered: int = 0  # the portal withheld the answer (not confident, no sources, model error)
    escalated: int = 0
    deflected: int = 0
    deflection_rate: float | None = None
    feedback: int = 0
    helpful: int = 0
    helpful_rate: float | None = None
    median_confidence: float | None = None
    per_day: list[dict[str, Any]] = field(default_factory=list)  # {"day", "questions", "answered", "escalated"}
    escalated_by_reason: list[dict[str, Any]] = field(default_factory=list)  # {"reason", "label", "count"}
    tickets_opened: int = 0
    tickets_replied: int = 0
    median_first_reply: dt.timedelta | None = None
    top_cited: list[dict[str, Any]] = field(default_factory=list)  # {"id", "title", "slug", "count"}
    not_cited: list[dict[str, Any]] = field(default_factory=list)  # {"id", "title", "slug"}
    unhelpful: list[Feedback] = field(default_factory=list)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def period_questions(period: Period) -> QuerySet[Question]:
    start, end = period.bounds()
    return Question.objects.filter(created_at__gte=start, created_at__lt=end)


def insights_for(period: Period, *, unhelpful_limit: int = 20) -> Insights:
    """Every figure of the dashboard for ``period`` (see the module docstring for definitions).

    Nine queries whatever the number of questions: counts per day, median confidence,
    escalations by reason, tickets, citations (three), unhelpful answers.
    """
    result = Insights(period=period)
    by_day = _counts_per_day(period)
    empty = {f"n_{name}": 0 for name in COUNTS}
    result.per_day = [
        {"day": day, "questions": row["n_questions"], "answered": row["n_answered"], "escalated": row["n_escalated"]}
        for day in period.dates()
        for row in [by_day.get(day, empty)]
    ]
    for name in COUNTS:
        setattr(result, name, sum(row[f"n_{name}"] for row in by_day.values()))
    result.deflection_rate = _ratio(result.deflected, result.questions)
    result.helpful_rate = _ratio(result.helpful, result.feedback)
    result.median_confidence = period_questions(period).aggregate(median=Percentile("confidence", 0.5))["median"]

    labels = dict(Ticket.Reason.choices)
    reasons = (
        Ticket.objects.filter(question__in=period_questions(period).values("pk"))
        .values("reason")
        .annotate(count=Count("question", distinct=True))
        .order_by("-count", "reason")
    )
    result.escalated_by_reason = [
        {"reason": r["reason"], "label": str(labels.get(r["reason"], r["reason"])), "count": r["count"]}
        for r in reasons
    ]

    _tickets(result, period)
    _citations(result, period)
    start, end = period.bounds()
    result.unhelpful = list(
        Feedback.objects.filter(helpful=False, question__created_at__gte=start, question__created_at__lt=end)
        .select_related("question")
        .order_by("-updated_at")[:unhelpful_limit]
    )
    return result


def _counts_per_day(period: Period) -> dict[dt.date, dict[str, int]]:
    """``{day: {"n_questions", "n_answered", …}}`` for the days of ``period`` that have questions.

    One grouped scan of the period's questions (the period's totals are the sums of the
    days: a loop over days, never over questions). "Has a ticket" and "has feedback" are
    uncorrelated ``IN (SELECT question_id …)`` tests, which PostgreSQL turns into hash
    tables built once per query, and each is evaluated once per row in the inner select
    (``OFFSET 0`` keeps the planner from copying it into every ``FILTER``; it also makes
    the planner expect few days and group by hash instead of sorting every row). The
    correlated ``EXISTS`` per row and the join to feedback it replaces took about a third
    longer; it is still the page's slowest query (``manage.py benchmark_insights --explain``).
    """
    start, end = period.bounds()
    q, t, f = Question._meta.db_table, Ticket._meta.db_table, Feedback._meta.db_table
    sql = f"""
        SELECT day, count(*), count(*) FILTER (WHERE answered), count(*) FILTER (WHERE not_answered),
               count(*) FILTER (WHERE escalated), count(*) FILTER (WHERE answered AND NOT escalated),
               count(*) FILTER (WHERE rated), count(*) FILTER (WHERE helpful)
        FROM (
            SELECT (q.created_at AT TIME ZONE %s)::date AS day, q.status = %s AS answered,
                   q.escalation_recommended AS not_answered,
                   q.id IN (SELECT question_id FROM {t}) AS escalated,
                   q.id IN (SELECT question_id FROM {f}) AS rated,
                   q.id IN (SELECT question_id FROM {f} WHERE helpful) AS helpful
            FROM {q} q WHERE q.created_at >= %s AND q.created_at < %s
            OFFSET 0
        ) AS per_question
        GROUP BY day
    """
    tz = timezone.get_current_timezone_name()
    with connection.cursor() as cursor:
        cursor.execute(sql, [tz, Question.Status.ANSWERED.value, start, end])
        return {day: {f"n_{n}": v for n, v in zip(COUNTS, values, strict=True)} for day, *values in cursor.fetchall()}


def _tickets(result: Insights, period: Period) -> None:
    start, end = period.bounds()
    # The first reply per ticket as a grouped LEFT JOIN (one pass over the replies), not a
    # correlated subquery per ticket, which the aggregate below would evaluate twice.
    first_reply = Min("deliveries__created_at", filter=Q(deliveries__kind=EmailDelivery.Kind.REPLY))
    tickets = Ticket.objects.filter(created_at__gte=start, created_at__lt=end).annotate(
        first_reply_at=Coalesce(first_reply, F("replied_at"))
    )
    wait = ExpressionWrapper(F("first_reply_at") - F("created_at"), output_field=DurationField())
    figures = tickets.aggregate(
        opened=Count("pk"),
        replied=Count("pk", filter=Q(first_reply_at__isnull=False)),
        median=Percentile(wait, 0.5, output_field=DurationField()),
    )
    result.tickets_opened, result.tickets_replied = figures["opened"], figures["replied"]
    result.median_first_reply = figures["median"]


def _citations(result: Insights, period: Period) -> None:
    """Citations per article in one grouped query over the JSON sources (a lateral join)."""
    start, end = period.bounds()
    # DISTINCT (question, article) pairs first, then a plain count: hashed, where
    # count(DISTINCT q.id) per article sorted every citation (about 20 % slower).
    sql = f"""
        SELECT article_id, count(*) AS n FROM (
            SELECT DISTINCT q.id, (s.value ->> 'article_id')::bigint AS article_id
            FROM {Question._meta.db_table} q CROSS JOIN LATERAL jsonb_array_elements(q.sources) AS s(value)
            WHERE q.created_at >= %s AND q.created_at < %s AND q.status = %s
              AND jsonb_typeof(q.sources) = 'array' AND (s.value ->> 'cited') = 'true'
              AND (s.value ->> 'article_id') ~ '^[0-9]+$'
        ) AS cited
        GROUP BY article_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, end, Question.Status.ANSWERED.value])
        counts = {int(article_id): int(n) for article_id, n in cursor.fetchall()}
    kb = knowledge_base_get_live()
    # Seen by customers now (Article.live_q): a scheduled article could not have been cited yet.
    published = Article.objects.filter(Article.live_q(), knowledge_base=kb).values("id", "title", "slug")
    cited_rows: list[dict[str, Any]] = [
        {**row, "count": counts[row["id"]]}
        for row in Article.objects.filter(pk__in=counts).values("id", "title", "slug")
    ]
    result.top_cited = sorted(cited_rows, key=lambda r: (-r["count"], r["title"]))[: settings.INSIGHTS_TOP_ARTICLES]
    result.not_cited = [dict(row) for row in published.order_by("title") if row["id"] not in counts]
