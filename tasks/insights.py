from celery import shared_task


@shared_task(acks_late=True)
def compute_content_gaps(report_id: int) -> bool:
    """Compute one content-gap report (``support.insights.gaps.content_gap_report_compute``).

    No retries: a failure is recorded on the report and shown on the dashboard, where
    staff can request a new one.
    """
    from support.insights.gaps import content_gap_report_compute

    try:
        return content_gap_report_compute(report_id=report_id)
    except Exception:  # recorded on the report; nothing for Celery to retry
        return False
