"""The insights dashboard (``/admin/insights/``): staff with ``support.view_insights`` only.

Anonymous visitors and non-staff users are sent to the admin login page (Django's
``staff_member_required``); staff without the permission get 403. Superusers hold every
permission.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from support.insights.charts import daily_chart, horizontal_chart
from support.insights.forms import PeriodForm, StaffSearchForm
from support.insights.gaps import article_prefill_url, content_gap_report_request, latest_report
from support.insights.selectors import Insights, insights_for
from support.models import ContentGapReport
from support.search import KINDS, staff_search

PERMISSION = "support.view_insights"


def insights_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Admin login for anyone who is not staff; 403 for staff without ``support.view_insights``."""

    @staff_member_required
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def duration_label(value: timedelta | None) -> str:
    """A waiting time for people: minutes under an hour, hours under two days, then days."""
    if value is None:
        return "–"
    minutes = value.total_seconds() / 60
    if minutes < 60:
        return _("%(minutes)d min") % {"minutes": round(minutes)}
    if minutes < 48 * 60:
        return _("%(hours).1f h") % {"hours": minutes / 60}
    return _("%(days).1f days") % {"days": minutes / 1440}


def figures(insights: Insights) -> list[tuple[str, str, str]]:
    """The headline numbers as ``(label, value, explanation)``, in reading order."""
    confidence = "–" if insights.median_confidence is None else f"{insights.median_confidence:.3f}"
    return [
        (_("Questions"), f"{insights.questions:,}", ""),
        (_("Answered"), f"{insights.answered:,}", _("the answer was shown")),
        (_("Escalated"), f"{insights.escalated:,}", _("questions sent to support as a ticket")),
        (_("Deflection rate"), _percent(insights.deflection_rate), _("answered and not escalated, of all questions")),
        (
            _("Helpful rate"),
            _percent(insights.helpful_rate),
            ngettext("%(count)s answer rated by customers", "%(count)s answers rated by customers", insights.feedback)
            % {"count": f"{insights.feedback:,}"},
        ),
        (_("Median confidence"), confidence, ""),
        (_("Tickets opened"), f"{insights.tickets_opened:,}", ""),
        (
            _("Median time to first reply"),
            duration_label(insights.median_first_reply),
            ngettext("%(count)s ticket replied", "%(count)s tickets replied", insights.tickets_replied)
            % {"count": f"{insights.tickets_replied:,}"},
        ),
    ]


def _gaps_context(report: ContentGapReport | None) -> dict[str, Any]:
    if report is None or report.state != ContentGapReport.State.DONE:
        return {"gap_report": report, "gap_clusters": []}
    clusters = [cluster | {"new_article_url": article_prefill_url(cluster)} for cluster in report.clusters]
    return {"gap_report": report, "gap_clusters": clusters}


@require_GET
@insights_view
def dashboard(request: HttpRequest) -> HttpResponse:
    """The period's figures, charts with their data tables, and the latest content-gap report."""
    form = PeriodForm(request.GET or None)
    period = form.period()
    form = form.shown()
    insights = insights_for(period)
    context = {
        **admin.site.each_context(request),
        "title": _("Insights"),
        "form": form,
        "period": period,
        "insights": insights,
        "figures": figures(insights),
        "daily_chart": daily_chart(insights.per_day),
        "reason_chart": horizontal_chart([(r["label"], r["count"]) for r in insights.escalated_by_reason]),
        "cited_chart": horizontal_chart([(a["title"], a["count"]) for a in insights.top_cited]),
        **_gaps_context(latest_report()),
        # "Write an article" only for staff who may (support agents got a 403 behind it)
        "can_write_articles": request.user.has_perm("knowledge.add_article"),
    }
    return render(request, "admin/insights/dashboard.html", context)


@require_POST
@insights_view
def recompute_gaps(request: HttpRequest) -> HttpResponse:
    """Request a content-gap report for the posted period; the worker computes it."""
    form = PeriodForm(request.POST)
    if not form.is_valid():  # a crafted or stale post: say why instead of computing another period
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(reverse("insights:dashboard") + "#gaps")
    period = form.period()
    content_gap_report_request(period=period, by=request.user)
    messages.info(request, _("Content gaps are being computed in the background. Reload this page in a moment."))
    query = f"?start={period.start.isoformat()}&end={period.end.isoformat()}"
    return redirect(reverse("insights:dashboard") + query + "#gaps")


@require_GET
@staff_member_required
def staff_search_page(request: HttpRequest) -> HttpResponse:
    """``/admin/search/``: any staff member searches articles and support answers (public pages);
    answered tickets, which hold customers' questions and replies, only with ``support.view_ticket``
    (support agents), as their admin pages."""
    form = StaffSearchForm(request.GET or None)
    hits = []
    if form.is_valid() and form.cleaned_data["q"].strip():
        data = form.cleaned_data
        allowed = tuple(k for k in KINDS if k != "ticket" or request.user.has_perm("support.view_ticket"))
        kinds = tuple(k for k in (tuple(data["kind"]) or KINDS) if k in allowed)
        hits = staff_search(data["q"], kinds=kinds, since=data.get("start"), until=data.get("end")) if kinds else []
    context = {
        **admin.site.each_context(request),
        "title": _("Search articles, support answers and tickets"),
        "form": form,
        "hits": hits,
        "searched": form.is_valid() and bool(form.cleaned_data["q"].strip()),
    }
    return render(request, "admin/insights/search.html", context)
