"""Content gaps computed by the real worker, requested from the dashboard.

Kept at the top level so it runs after tests/support/: the session's worker, once
started, sends the emails that tests/support/test_outbox.py expects to find unsent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from support.models import ContentGapReport
from tests.support.test_content_gaps import REFUND, failed


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_recompute_runs_in_the_worker(admin_client: Client, celery_worker: Any, sample_articles: Any) -> None:
    for text in REFUND:
        failed(text)
    response = admin_client.post(reverse("insights:recompute_gaps"), {"start": "", "end": "", "days": "7"})
    assert response.status_code == 302 and response["Location"].endswith("#gaps")
    report = ContentGapReport.objects.get()
    assert report.end == timezone.localdate() and report.start == timezone.localdate() - dt.timedelta(days=6)
    celery_worker.wait_for(
        lambda: ContentGapReport.objects.filter(pk=report.pk, state="done").exists(), timeout=120, what="the report"
    )
    report.refresh_from_db()
    assert [c["size"] for c in report.clusters] == [3]
    assert report.clusters[0]["nearest_article"]["title"] == "환불 정책 안내"
