"""Customer questions, their answers, escalation tickets and the emails they send."""

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField


class Conversation(models.Model):
    """A customer's thread of questions (``Question.conversation``, ordered by ``turn``).

    One secret per conversation: the first question's token becomes the conversation's,
    and every later question of it stores the same ``token_hash``, so the one token the
    client holds proves ownership of the conversation and of each of its questions
    (tickets, feedback).
    """

    language = models.CharField(_("language"), max_length=5, blank=True)  # of the first question
    token_hash = models.CharField(_("token hash"), max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return gettext("conversation %(id)s") % {"id": self.pk}


class Question(models.Model):
    """One customer question, stored before anything that can fail runs.

    ``sources`` is the list shown to the customer, each item
    ``{"chunk_id", "article_id", "title", "url", "excerpt", "score"}``; ``features``
    keeps the retrieval evidence behind ``confidence`` for review and calibration.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        ANSWERED = "answered", _("Answered")
        NOT_CONFIDENT = "not_confident", _("Not confident")
        NO_SOURCES = "no_sources", _("No sources")
        MODEL_ERROR = "model_error", _("Model error")

    text = models.TextField(_("text"))
    language = models.CharField(_("language"), max_length=5, blank=True)
    channel = models.CharField(_("channel"), max_length=10, default="web")  # web / api
    status = models.CharField(_("status"), max_length=15, choices=Status.choices, default=Status.RECEIVED)
    answer = models.TextField(_("answer"), blank=True)
    answer_kind = models.CharField(_("answer kind"), max_length=15, blank=True)  # extractive / llm
    answer_span = models.TextField(_("answer span"), blank=True)  # the shortest part of ``answer`` that answers
    # Where ``answer_span`` starts in ``answer`` (characters); None: at its first occurrence.
    answer_span_start = models.PositiveIntegerField(_("answer span start"), null=True, blank=True)
    confidence = models.FloatField(_("confidence"), null=True, blank=True)
    threshold = models.FloatField(_("threshold"), null=True, blank=True)
    escalation_recommended = models.BooleanField(_("escalation recommended"), default=False)
    sources = models.JSONField(_("sources"), default=list, blank=True)
    features = models.JSONField(_("features"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    timings_ms = models.JSONField(_("timings ms"), default=dict, blank=True)
    usage = models.JSONField(_("usage"), default=dict, blank=True)
    # SHA-256 of the secret handed to the API client that asked; proves ownership later
    # (tickets, feedback). The secret itself is never stored.
    token_hash = models.CharField(_("token hash"), max_length=64, blank=True, editable=False)
    # The question's query embedding as retrieval computed it (``embedding_model`` says
    # which model; vectors of two models are never compared): similar past tickets.
    embedding = VectorField(null=True, blank=True, editable=False)
    embedding_model = models.CharField(_("embedding model"), max_length=200, blank=True, editable=False)
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="questions",
        verbose_name=_("conversation"),
    )
    turn = models.PositiveSmallIntegerField(_("turn"), default=1)  # 1-based position in the conversation
    # What retrieval was asked: ``text`` itself, or for a follow-up the standalone query
    # made from the recent turns (``support.conversations``). ``text`` stays as asked.
    retrieval_query = models.TextField(_("retrieval query"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["-created_at"]
        # The insights dashboard filters every figure on a period of created_at. The index
        # also carries the columns its counts read, so once VACUUM has marked the pages
        # all-visible they are index-only scans that never touch the wide rows (embedding,
        # sources, features, answer); ``id`` is for the ticket and feedback lookups.
        indexes = [
            models.Index(
                fields=["created_at"],
                include=["id", "status", "escalation_recommended", "confidence"],
                name="question_period",
            )
        ]
        # Held by support agents and content editors (support.roles).
        permissions = [("view_insights", _("Can view the insights dashboard"))]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "turn"], name="one_question_per_conversation_turn")
        ]

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def abandoned(self) -> bool:
        """The customer left (closed the page mid-stream) before the answer was finished
        (``support.services.question_answer_events`` records ``disconnected: …``)."""
        return self.status == self.Status.MODEL_ERROR and self.error.startswith("disconnected")


def _ticket_reference() -> str:
    return "T-" + secrets.token_hex(4).upper()


class Ticket(models.Model):
    """A question escalated to the support team.

    Statuses move only through ``support.workflow`` (``TRANSITIONS`` there): open →
    pending customer → answered → closed, with reopen. Every change is a ``TicketEvent``.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING_CUSTOMER = "pending_customer", _("Pending customer")
        ANSWERED = "answered", _("Answered")
        CLOSED = "closed", _("Closed")

    class Reason(models.TextChoices):
        LOW_CONFIDENCE = "low_confidence", _("Low confidence")
        NO_SOURCES = "no_sources", _("No sources")
        MODEL_ERROR = "model_error", _("Model error")
        CUSTOMER_REQUEST = "customer_request", _("Customer request")

    class DraftState(models.TextChoices):
        PENDING = "pending", _("Being written")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    reference = models.CharField(_("reference"), max_length=20, unique=True, default=_ticket_reference, editable=False)
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("question"))
    email = models.EmailField(_("email"))
    details = models.TextField(_("details"), blank=True)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    reply = models.TextField(_("reply to the customer"), blank=True)
    # The reply being written (not sent yet): what the reply box shows. A generated draft
    # fills it only while ``reply_draft_edited_by`` is empty, so it never overwrites an agent's text.
    reply_draft = models.TextField(_("reply being written"), blank=True)
    reply_draft_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reply draft edited by"),
    )
    # The last generated draft ("Draft reply", written by the worker: support.drafting).
    draft_state = models.CharField(_("draft"), max_length=10, choices=DraftState.choices, blank=True)
    draft_text = models.TextField(_("draft text"), blank=True)
    draft_kind = models.CharField(_("draft kind"), max_length=15, blank=True)  # extractive / llm
    draft_sources = models.JSONField(_("draft sources"), default=list, blank=True)
    draft_error = models.TextField(_("draft error"), blank=True)
    draft_requested_at = models.DateTimeField(_("draft requested at"), null=True, blank=True)
    draft_generated_at = models.DateTimeField(_("draft generated at"), null=True, blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("replied by"),
    )
    # Keyed hash of the requester's address (never the address itself): the per-IP cap
    # on acknowledgement emails counts these.
    requester_ip_hash = models.CharField(
        _("requester ip hash"), max_length=64, blank=True, editable=False, db_index=True
    )
    # The language of the page (or the API request's Accept-Language) the customer escalated
    # from: their emails are written in it ("Nabi Plus 해지 how?" had been answered in English).
    language = models.CharField(_("language"), max_length=5, blank=True)
    ack_suppressed = models.BooleanField(
        _("acknowledgement not sent"),
        default=False,
        editable=False,
        help_text=_("True when a per-recipient or per-address hourly cap held the acknowledgement email back."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at"]
        # created_at: the dashboard's tickets opened in a period.
        indexes = [
            models.Index(fields=["status", "reason"]),
            models.Index(fields=["created_at"], name="ticket_created_at"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["question"], condition=~models.Q(status="closed"), name="one_unresolved_ticket_per_question"
            )
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def email_shown(self) -> str:
        """``email`` as the customer typed its domain: stored in the IDNA form mail is delivered
        to (``support.tickets.email_normalise``), "minsu@예시.한국" read back to them as
        "minsu@xn--vv4b11d.xn--3e0b707e"."""
        local, at, domain = self.email.rpartition("@")
        if not at or "xn--" not in domain:
            return self.email
        try:
            return f"{local}@{domain.encode('ascii').decode('idna')}"
        except UnicodeError:
            return self.email

    def customer_status_display(self) -> str:
        """The status as the customer reads it (ticket page, their emails): the team's "Pending
        customer" means the team waits for *them*, and "Open" that they wait for the team."""
        label = _CUSTOMER_STATUS.get(self.status)
        return str(label) if label is not None else str(self.get_status_display())


# Only the statuses whose staff label misreads for the customer; "Answered" and "Closed" read the same.
_CUSTOMER_STATUS: dict[str, Any] = {
    Ticket.Status.OPEN: _("Waiting for our support team"),
    Ticket.Status.PENDING_CUSTOMER: _("Waiting for your reply"),
}


class TicketEvent(models.Model):
    """One entry of a ticket's history: who did what, when (written by ``support.workflow``).

    ``actor`` is the staff member; None means the customer (``customer_message``) or the
    system. ``body`` holds the note, reply or message text; status changes record both
    ends in ``from_status``/``to_status``; assignments name the new assignee in ``body``.
    """

    class Kind(models.TextChoices):
        STATUS = "status", _("Status change")
        ASSIGNMENT = "assignment", _("Assignment")
        NOTE = "note", _("Internal note")
        REPLY = "reply", _("Reply to customer")
        CUSTOMER_MESSAGE = "customer_message", _("Message from customer")
        DRAFT = "draft", _("Draft reply")
        CURATED_ANSWER = "curated_answer", _("Added to knowledge base")
        ALIAS = "alias", _("Wording added to an article")
        GAP = "gap", _("Remembered as a question no article answers")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events", verbose_name=_("ticket"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    body = models.TextField(_("body"), blank=True)
    from_status = models.CharField(_("from status"), max_length=20, blank=True)
    to_status = models.CharField(_("to status"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"])]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"


def _after_enqueue_lease() -> datetime:
    """A new row belongs to its on-commit enqueue for a lease; only then may the sweeper take it."""
    return timezone.now() + timedelta(seconds=settings.EMAIL_ENQUEUE_LEASE_SECONDS)


class EmailDelivery(models.Model):
    """An email owed for a ticket: the outbox row (see ``support.outbox``).

    One row per (ticket, kind) for acknowledgement and notification; one per reply and
    per customer message.
    A task makes one attempt after claiming the row with a conditional UPDATE, so a task
    delivered twice sends once. ``attempts`` counts attempts since the row was created
    or re-sent; ``next_attempt_at`` is when the sweeper may enqueue it next.
    """

    class Kind(models.TextChoices):
        ACKNOWLEDGEMENT = "ack", _("Acknowledgement to customer")
        NOTIFICATION = "notify", _("Notification to support")
        REPLY = "reply", _("Reply to customer")
        CUSTOMER_MESSAGE = "message", _("Customer message to support")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("ticket"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    recipient = models.EmailField(_("recipient"))
    body = models.TextField(_("body"), blank=True, help_text="Reply or customer message text.")
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=_after_enqueue_lease)
    last_error = models.TextField(_("last error"), blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("email delivery")
        verbose_name_plural = _("email deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "kind"],
                condition=~models.Q(kind__in=["reply", "message"]),
                name="one_ack_and_one_notification_per_ticket",
            )
        ]
        # The sweeper's query: pending rows that are due. Sent rows, the vast majority, stay out.
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(state="pending"), name="emaildelivery_due")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.ticket}"  # no English "for" inside a Korean label


class AnswerPolicy(models.Model):
    """Run-time answer settings editable in admin (a single row, pk=1).

    ``confidence_threshold`` starts from ``settings.ANSWER_CONFIDENCE_THRESHOLD`` and
    ``manage.py calibrate --store`` overwrites it with a calibrated value.
    """

    SINGLETON_PK = 1

    confidence_threshold = models.FloatField(
        _("answer confidence threshold"), validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    calibration_note = models.TextField(_("calibration note"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("answer policy")
        verbose_name_plural = _("answer policy")

    def __str__(self) -> str:
        return f"threshold {self.confidence_threshold:.3f}"


class Feedback(models.Model):
    """A customer's verdict on one answer: "Did this answer your question?".

    One per question: giving feedback again replaces the verdict and comment
    (``support.feedback.feedback_record``), so a customer who first said yes and then
    found the answer wrong is counted once, as unhelpful.
    """

    question = models.OneToOneField(
        Question, on_delete=models.CASCADE, related_name="feedback", verbose_name=_("question")
    )
    helpful = models.BooleanField(_("helpful"))
    comment = models.TextField(_("comment"), blank=True)
    channel = models.CharField(_("channel"), max_length=10, default="web")  # web / api
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("answer feedback")
        verbose_name_plural = _("answer feedback")
        # The dashboard's latest unhelpful answers: read newest first, stop after a page,
        # instead of joining every question of the period.
        indexes = [
            models.Index(fields=["-updated_at"], condition=models.Q(helpful=False), name="feedback_unhelpful_recent")
        ]

    def __str__(self) -> str:
        return f"{'+' if self.helpful else '-'} {self.question_id}"


class ContentGapReport(models.Model):
    """Escalated and unhelpful questions of a period, clustered by embedding similarity.

    Requested from the insights dashboard, computed in the worker
    (``support.insights.gaps.content_gap_report_compute``). ``clusters`` is a list, largest
    first, of ``{"size", "terms": [str], "examples": [str], "question_ids": [int],
    "language", "nearest_article": {"id", "title", "slug", "similarity"} | None}``.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    start = models.DateField(_("period start"))
    end = models.DateField(_("period end"))  # inclusive
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    question_count = models.PositiveIntegerField(_("question count"), default=0)
    clusters = models.JSONField(_("clusters"), default=list, blank=True)
    embedding_model = models.CharField(_("embedding model"), max_length=200, blank=True)
    similarity = models.FloatField(_("similarity"), null=True, blank=True)  # the CONTENT_GAP_SIMILARITY used
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("content gap report")
        verbose_name_plural = _("content gap reports")

    def __str__(self) -> str:
        return f"{self.start}..{self.end} ({self.state})"
