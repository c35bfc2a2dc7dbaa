"""The dashboard's period: the last 7, 30 or 90 days, or custom dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from support.insights.selectors import Period

PRESET_DAYS = (7, 30, 90)
DEFAULT_DAYS = 30


def _last_days(days: int) -> str:
    return gettext("last %(days)d days") % {"days": days}


# Lazy so each request gets its own language: ``gettext_lazy(...) % ...`` would format once,
# at import, in the default language (Korean on English pages).
last_days_label = lazy(_last_days, str)


class PeriodForm(forms.Form):
    """GET parameters ``days`` (7/30/90) or ``start`` and ``end`` (ISO dates, inclusive)."""

    days = forms.TypedChoiceField(
        label=_("Period"),
        choices=[(str(d), last_days_label(d)) for d in PRESET_DAYS] + [("", _("custom"))],
        coerce=int,
        empty_value=None,
        required=False,
        initial=str(DEFAULT_DAYS),  # an unbound form shows the period its figures are for
        # ?days=0 or =abc (an edited address) had silently shown 30 days under a "last 7 days" select
        error_messages={
            "invalid_choice": _("Choose one of the periods offered; the figures below are for the default.")
        },
    )
    start = forms.DateField(label=_("From date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def shown(self) -> PeriodForm:
        """The form to show: with a preset chosen, without the dates it ignored (they stayed in
        the boxes and looked applied); with a period that is not offered (``?days=0``), the
        default selected (the select had shown its first option, 7 days, above 30 days'
        figures) and the error beside it."""
        if self.is_bound and self.is_valid() and self.cleaned_data.get("days"):
            return PeriodForm({"days": str(self.cleaned_data["days"])})
        if self.is_bound and self.has_error("days"):
            shown = PeriodForm({"days": str(DEFAULT_DAYS)})
            shown.is_valid()
            for error in self.errors["days"]:
                shown.add_error(None, error)
            return shown
        return self

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if self.has_error("start") or self.has_error("end"):
            return data  # a date that is no date says so beside its box, not "give both dates"
        if data.get("days") is None and (start or end):
            if not (start and end):
                raise ValidationError(_("Give both dates of a custom period."))
            if end < start:
                raise ValidationError(_("The period ends before it starts."))
            if end >= dt.date.max:  # its end bound, the next midnight, does not exist (was a 500)
                raise ValidationError(_("The period must end before %(date)s."), params={"date": dt.date.max})
            if (end - start).days + 1 > settings.INSIGHTS_MAX_DAYS:
                raise ValidationError(
                    _("A period is at most %(days)d days long."), params={"days": settings.INSIGHTS_MAX_DAYS}
                )
        return data

    def period(self) -> Period:
        """The chosen period; the last 30 days when nothing (valid) was chosen."""
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("days"):
            return Period.last_days(data["days"])
        if data.get("start") and data.get("end"):
            return Period(start=data["start"], end=data["end"])
        return Period.last_days(DEFAULT_DAYS)


class StaffSearchForm(forms.Form):
    """GET parameters of the internal search: ``q``, ``kind`` (any of ``support.search.KINDS``), ``start``, ``end``."""

    q = forms.CharField(label=_("Search"), max_length=500, required=False)
    kind = forms.MultipleChoiceField(
        label=_("In"),
        choices=[
            ("article", _("Articles")),
            ("support_answer", _("Support answers")),
            ("ticket", _("Answered tickets")),
        ],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    start = forms.DateField(label=_("From date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError(_("The start date is after the end date."))
        return data
