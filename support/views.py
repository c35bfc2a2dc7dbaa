"""Customer-facing pages: ask a question, read the answer, rate it, escalate it, read an article.

Views validate with a form, call one service and shape the page. A visitor sees only
the questions and tickets created in their own session (ids kept in
``request.session``), so guessing ids in URLs reveals nothing.
"""

import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.core import get_usage
from django_ratelimit.decorators import ratelimit

from knowledge.analysis import detect_language
from knowledge.chunking import plain_text
from knowledge.models import Article
from knowledge.rendering import render_markdown
from knowledge.selectors import article_live_by_slug
from knowledge.services import knowledge_base_get_live
from support.answering.span import span_position
from support.api import ask_rate, question_payload, sources_payload
from support.feedback import FeedbackInvalid, feedback_allowed, feedback_record
from support.forms import CustomerMessageForm, FeedbackForm, QuestionForm, TicketForm
from support.links import KEY_PARAMETER, ticket_link_valid
from support.models import Conversation, Feedback, Question, Ticket
from support.selectors import conversation_turns, ticket_conversation
from support.services import QuestionInvalid, question_answer, question_answer_events
from support.streaming import answer_event_stream, event_stream_response, first_event, wants_event_stream
from support.throttling import client_ip
from support.tickets import TicketExists, TicketInvalid, ticket_create
from support.workflow import TransitionInvalid, ticket_customer_message_add, ticket_escalated_again

SESSION_QUESTIONS = "support_question_ids"
SESSION_TICKETS = "support_ticket_refs"
SESSION_JUST_SENT = "support_ticket_just_sent"  # the reference escalated by this request's redirect
SESSION_KEEP = 50  # most recent items remembered per session


def _remember(request: HttpRequest, key: str, value: int | str) -> None:
    items = [v for v in request.session.get(key, []) if v != value]
    request.session[key] = [*items, value][-SESSION_KEEP:]


def _owned(request: HttpRequest, key: str, value: int | str) -> None:
    """Raise 404 unless ``value`` was created in this session (no hint that it exists)."""
    if value not in request.session.get(key, []):
        raise Http404


def _too_many_requests(
    request: HttpRequest, view: Callable[..., HttpResponseBase], rate: Callable[[str, object], str]
) -> HttpResponse:
    """The 429 page of a view limited by ``@ratelimit(key="ip", rate=rate, method="POST")``, with
    ``Retry-After`` the seconds left in django-ratelimit's window (as the API's 429 says,
    :class:`support.throttling.ScopedThrottle`), read without counting this request again."""
    usage = get_usage(request, fn=view, key="ip", rate=rate, method="POST", increment=False)
    seconds = max(1, int(usage["time_left"])) if usage else 60
    response = render(request, "429.html", {"retry_minutes": math.ceil(seconds / 60)}, status=429)
    response["Retry-After"] = str(seconds)
    return response


@never_cache  # the customer's question, email or messages: kept by no cache
@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=ask_rate, method="POST", block=False)
def ask(request: HttpRequest) -> HttpResponseBase:
    """GET: the question form. POST: answer the question and redirect to its page (with
    ``Accept: text/event-stream``, from the page's script: stream the answer instead)."""
    if request.method != "POST":
        return render(request, "support/ask.html", {"form": QuestionForm()})
    if getattr(request, "limited", False):
        return _too_many_requests(request, ask, ask_rate)
    form = QuestionForm(request.POST)
    if form.is_valid():
        try:
            if wants_event_stream(request, "text/html"):  # the page's script (support/ask-stream.js)
                return _streamed(request, text=form.cleaned_data["question"])
            outcome = question_answer(text=form.cleaned_data["question"], channel="web")
        except QuestionInvalid:  # the form checks the same limits; only a settings change gets here
            form.add_error("question", _("Please check your question and try again."))
        else:
            _remember(request, SESSION_QUESTIONS, outcome.question.pk)
            return redirect("support:question", question_id=outcome.question.pk)
    return render(request, "support/ask.html", {"form": form})


def _streamed(request: HttpRequest, *, text: str, conversation: Conversation | None = None) -> HttpResponseBase:
    """The answer as Server-Sent Events (:mod:`support.streaming`), in the API's shapes.

    The question is stored and added to the session before the stream starts, so the
    page the script then opens (``done``'s ``id``) is this visitor's, as after a redirect.
    ``done`` is the API's JSON, ``token`` included (issue 9: the same JSON as the non-streaming
    response); the page's script does not use it, the session authorises the page.
    Raises ``QuestionInvalid`` before anything is sent.
    """
    events = question_answer_events(text=text, channel="web", conversation=conversation, stream=True)
    first = first_event(events)
    _remember(request, SESSION_QUESTIONS, first.question.pk)
    return event_stream_response(answer_event_stream(first, events, sources=sources_payload, done=question_payload))


def _own_page(url: object) -> str:
    """``url`` if it is a path on this site (as ``question_answer`` stores it), else ""."""
    path = str(url or "")
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else ""


def _shown_sources(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stored sources, linking only to our own pages, each with its excerpt as plain text
    (``excerpt_text``: :func:`knowledge.chunking.plain_text`) and its relevance clipped to
    [0, 1] (``shown_score``: re-ranking bonuses lift a fused score past 1, and "relevance 1.10"
    means nothing to a customer) for the page to show. A source whose article has since been
    unpublished or deleted is marked ``withdrawn`` and not linked (its page is a 404): the
    answer it gave may be out of date."""
    ids = {int(source["article_id"]) for source in sources if source.get("article_id")}
    live = set(Article.objects.filter(Article.live_q(), pk__in=ids).values_list("pk", flat=True)) if ids else set()
    shown = []
    for source in sources:
        withdrawn = bool(source.get("article_id")) and int(source["article_id"]) not in live
        shown.append(
            source
            | {
                "url": "" if withdrawn else _own_page(source.get("url")),
                "withdrawn": withdrawn,
                "excerpt_text": plain_text(str(source.get("excerpt", ""))),
                "shown_score": min(1.0, max(0.0, float(source.get("score") or 0.0))),
            }
        )
    return shown


def _distinct_articles(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per article, best-scoring first (sources are already ordered)."""
    seen: dict[Any, dict[str, Any]] = {}
    for source in sources:
        seen.setdefault(source.get("article_id") or source.get("url"), source)
    return list(seen.values())


def answer_parts(answer: str, span: str, start: int | None = None) -> tuple[str, str, str]:
    """``(before, span, after)``: ``answer`` split around ``span`` where
    :func:`support.answering.span.span_position` places it (at ``start``, the occurrence the
    answerer meant, when the span stands there; else at its first occurrence).

    ``(answer, "", "")`` when there is no span or it is not in the answer.
    """
    at = span_position(answer, span, start)
    if at is None:
        return answer, "", ""
    return answer[:at], span, answer[at + len(span) :]


def _question_page(
    request: HttpRequest,
    question: Question,
    form: TicketForm,
    feedback_form: FeedbackForm | None = None,
    follow_up: QuestionForm | None = None,
) -> HttpResponse:
    tickets = Ticket.objects.filter(question=question, reference__in=request.session.get(SESSION_TICKETS, []))
    references = list(tickets.values_list("reference", flat=True))
    sources = _shown_sources(question.sources)
    feedback = Feedback.objects.filter(question=question).first()
    if _escalation_follows(feedback, form, has_ticket=bool(references)):
        # "No" leads to the escalation form: keyboard and screen-reader users start in its first
        # box, and a comment starts the details instead of being typed twice.
        form.fields["email"].widget.attrs["autofocus"] = True
        if feedback and feedback.comment:
            form.initial.setdefault("details", feedback.comment[: settings.TICKET_DETAILS_MAX_CHARS])
    follow_up = follow_up or QuestionForm(auto_id="id_follow_up_%s", autofocus=False)
    for invalid in (form, follow_up, feedback_form):
        # A form sent back with errors: focus (and so scroll to) its first wrong field, which
        # carries the message; the page otherwise opened at its top, the error far below.
        if invalid is not None and invalid.is_bound and invalid.errors:
            visible = [field.name for field in invalid.visible_fields()]
            name = next((field for field in invalid.errors if field in visible), visible[0] if visible else None)
            if name:
                invalid.fields[name].widget.attrs["autofocus"] = True
            break
    context = {
        "question": question,
        "answer_parts": answer_parts(question.answer, question.answer_span, question.answer_span_start),
        "form": form,
        "feedback_allowed": feedback_allowed(question),
        "feedback": feedback,
        "feedback_form": feedback_form or FeedbackForm(),
        "sources": [] if question.escalation_recommended else sources,
        "might_help": _distinct_articles([s for s in sources if not s["withdrawn"]])
        if question.escalation_recommended
        else [],
        "answer_withdrawn": any(s["withdrawn"] and s.get("cited") for s in sources),
        "tickets": references,
        "language_next": reverse("support:question", kwargs={"question_id": question.pk}),
        "earlier_turns": conversation_turns(question)[:-1],
        "follow_up_form": follow_up,
    }
    return render(request, "support/question.html", context)


def _escalation_follows(feedback: Feedback | None, form: TicketForm, *, has_ticket: bool) -> bool:
    """The customer said "No" (``feedback``), has no ticket for the question in this session and
    ``form`` is a fresh escalation form: the question page opens on it."""
    return bool(feedback and not feedback.helpful and not form.is_bound and not has_ticket)


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for where a page names no icon (a JSON response, an
    image): a redirect (302) to the portal's icon among the static files."""
    return redirect(static("support/favicon.svg"))


@never_cache  # the customer's question, email or messages: kept by no cache
@require_GET
def question_detail(request: HttpRequest, question_id: int) -> HttpResponse:
    """The answer with its sources, or an honest "not sure" with the escalation form."""
    _owned(request, SESSION_QUESTIONS, question_id)
    question = get_object_or_404(Question, pk=question_id)
    return _question_page(request, question, TicketForm())


@never_cache  # the customer's question, email or messages: kept by no cache
@require_POST
@ratelimit(key="ip", rate=ask_rate, method="POST", block=False)
def follow_up(request: HttpRequest, question_id: int) -> HttpResponseBase:
    """Ask the next question of ``question_id``'s conversation and redirect to its page.

    The session owns the conversation through its question; form errors re-render the
    question page with the message.
    """
    _owned(request, SESSION_QUESTIONS, question_id)
    if getattr(request, "limited", False):
        return _too_many_requests(request, follow_up, ask_rate)
    question = get_object_or_404(Question.objects.select_related("conversation"), pk=question_id)
    form = QuestionForm(request.POST, auto_id="id_follow_up_%s", autofocus=False)
    if form.is_valid():
        try:
            if wants_event_stream(request, "text/html"):  # the page's script (support/ask-stream.js)
                return _streamed(request, text=form.cleaned_data["question"], conversation=question.conversation)
            outcome = question_answer(
                text=form.cleaned_data["question"], channel="web", conversation=question.conversation
            )
        except QuestionInvalid:  # the form checks the same limits; only a settings change gets here
            form.add_error("question", _("Please check your question and try again."))
        else:
            _remember(request, SESSION_QUESTIONS, outcome.question.pk)
            return redirect("support:question", question_id=outcome.question.pk)
    return _question_page(request, question, TicketForm(), follow_up=form)


@never_cache  # the customer's question, email or messages: kept by no cache
@require_POST
@ratelimit(key="ip", rate=ask_rate, method="POST", block=False)
def escalate(request: HttpRequest, question_id: int) -> HttpResponse:
    """Send the question to the support team as a ticket; form errors re-render the question page."""
    _owned(request, SESSION_QUESTIONS, question_id)
    if getattr(request, "limited", False):
        return _too_many_requests(request, escalate, ask_rate)
    question = get_object_or_404(Question, pk=question_id)
    form = TicketForm(request.POST)
    if form.is_valid():
        try:
            ticket = ticket_create(
                question=question,
                email=form.cleaned_data["email"],
                details=form.cleaned_data["details"],
                requester_ip=client_ip(request),
                language=get_language() or "",  # the page's: the customer reads their emails in it
            )
        except TicketExists as exc:  # sent already (a double click, or a second try): show that ticket
            _remember(request, SESSION_TICKETS, exc.ticket.reference)
            _add_to_existing(request, exc.ticket, form.cleaned_data["email"], form.cleaned_data["details"])
            return redirect("support:ticket", reference=exc.ticket.reference)
        except TicketInvalid:  # the form checks the same limit; only a settings change gets here
            form.add_error("details", _("Please shorten the details and try again."))
        else:
            _remember(request, SESSION_TICKETS, ticket.reference)
            request.session[SESSION_JUST_SENT] = ticket.reference  # the ticket page says "sent" once
            return redirect("support:ticket", reference=ticket.reference)
    return _question_page(request, question, form)


def _add_to_existing(request: HttpRequest, ticket: Ticket, email: str, details: str) -> None:
    """A second escalation of the same question (:func:`support.workflow.ticket_escalated_again`),
    and the page says what became of what the customer wrote."""
    if ticket_escalated_again(ticket=ticket, email=email, details=details):
        messages.success(request, _("You already sent this question; what you wrote was added to its ticket."))
    else:
        messages.info(request, _("You already sent this question; here is its ticket."))


@never_cache  # the customer's question, email or messages: kept by no cache
@require_POST
@ratelimit(key="ip", rate=ask_rate, method="POST", block=False)
def feedback(request: HttpRequest, question_id: int) -> HttpResponse:
    """Record "Did this answer your question?"; a "no" lands on the escalation form at once."""
    _owned(request, SESSION_QUESTIONS, question_id)
    if getattr(request, "limited", False):
        return _too_many_requests(request, feedback, ask_rate)
    question = get_object_or_404(Question, pk=question_id)
    form = FeedbackForm(request.POST)
    if form.is_valid():
        try:
            outcome = feedback_record(
                question=question, helpful=form.cleaned_data["helpful"], comment=form.cleaned_data["comment"]
            )
        except FeedbackInvalid:  # no answer to rate, or a settings change shortened the limit
            form.add_error(None, _("This answer can't be rated."))
        else:
            url = reverse("support:question", kwargs={"question_id": question.pk})
            if outcome.feedback.helpful:
                return redirect(url + "#feedback")
            sent = Ticket.objects.filter(question=question, reference__in=request.session.get(SESSION_TICKETS, []))
            # Without a ticket the page focuses the email box (:func:`_escalation_follows`), which
            # brings it into view; browsers skip autofocus on a URL with a fragment, so #escalate
            # would leave focus nowhere.
            return redirect(url + "#escalate" if sent.exists() else url)
    return _question_page(request, question, TicketForm(), form)


@never_cache  # the customer's question, email or messages: kept by no cache
@require_GET
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """The ticket page: its reference, status and question, for its session or a signed email link.

    A valid signed ``?key=`` (from the acknowledgement email) adds the ticket to the
    session and redirects to the plain URL, so the key does not linger in the address
    bar or leak through ``Referer``.
    """
    if ticket_link_valid(reference, request.GET.get(KEY_PARAMETER, "")):
        _remember(request, SESSION_TICKETS, reference)
        return redirect("support:ticket", reference=reference)
    _owned(request, SESSION_TICKETS, reference)
    ticket = get_object_or_404(Ticket.objects.select_related("question"), reference=reference)
    just_sent = request.session.get(SESSION_JUST_SENT) == reference
    if just_sent:
        del request.session[SESSION_JUST_SENT]
    return _ticket_page(request, ticket, CustomerMessageForm(), just_sent=just_sent)


def _ticket_page(
    request: HttpRequest, ticket: Ticket, form: CustomerMessageForm, status: int = 200, *, just_sent: bool = False
) -> HttpResponse:
    """The ticket page; ``just_sent`` right after escalating (the confirmation-email wording),
    else what a customer coming back from an email or a bookmark needs. A message sent back
    with an error opens with the focus in its box (it had been on the page)."""
    if form.is_bound and form.errors:
        form.fields["message"].widget.attrs["autofocus"] = True
    context = {
        "ticket": ticket, "conversation": ticket_conversation(ticket), "message_form": form, "just_sent": just_sent,
        # read in its own language; none named for details without letters ("12345")
        "details_language": detect_language(ticket.details) if any(c.isalpha() for c in ticket.details) else "",
        # the language switcher leads back here, not to the POST-only messages address (a 405)
        "language_next": reverse("support:ticket", kwargs={"reference": ticket.reference}),
    }  # fmt: skip
    return render(request, "support/ticket.html", context, status=status)


def ticket_rate(group: str, request: object) -> str:
    """django-ratelimit's rate for customer messages: ``TICKET_RATE_LIMIT``, read per request."""
    return str(settings.TICKET_RATE_LIMIT)


@never_cache  # the customer's question, email or messages: kept by no cache
@require_POST
@ratelimit(key="ip", rate=ticket_rate, method="POST", block=False)
def ticket_message(request: HttpRequest, reference: str) -> HttpResponse:
    """The customer adds a message to their own ticket (same ownership as the ticket page: 404
    otherwise). An empty or over-long message re-renders the page with the error (400); a
    closed ticket answers 409 with a message."""
    _owned(request, SESSION_TICKETS, reference)
    if getattr(request, "limited", False):
        return _too_many_requests(request, ticket_message, ticket_rate)
    ticket = get_object_or_404(Ticket.objects.select_related("question"), reference=reference)
    form = CustomerMessageForm(request.POST)
    if not form.is_valid():
        return _ticket_page(request, ticket, form, status=400)
    try:
        ticket_customer_message_add(ticket=ticket, body=form.cleaned_data["message"])
    except TransitionInvalid:
        form.add_error(None, _("This ticket is closed. Please ask a new question instead."))
        return _ticket_page(request, ticket, form, status=409)
    except TicketInvalid:  # the form checks the same limits; only a settings change gets here
        form.add_error("message", _("Please check your message and try again."))
        return _ticket_page(request, ticket, form, status=400)
    messages.success(request, _("Your message was sent to our support team."))
    return redirect(reverse("support:ticket", kwargs={"reference": reference}) + "#conversation")


@require_GET
def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A published article of the live knowledge base, its Markdown rendered and sanitised;
    for staff who may view articles, also a draft or scheduled one, marked as a preview. An
    address the article had before its slug changed redirects to it (302: the old slug may
    be given to another article later, and a cached 301 would outlive that)."""
    kb = knowledge_base_get_live()
    article, moved = article_live_by_slug(kb_id=kb.pk, slug=slug)
    preview = False
    if article is None and request.user.has_perm("knowledge.view_article"):
        # Staff preview a draft or scheduled article ("View on site" had been a 404); never cached
        article, preview = Article.objects.filter(knowledge_base=kb, slug=slug).first(), True
    if article is None:
        raise Http404("No such article.")
    if moved:
        return redirect(article.get_absolute_url())
    source_url = article.source_url if article.source_url.startswith(("https://", "http://")) else ""
    reply = article.kind == Article.Kind.SUPPORT_ANSWER  # an agent's email reply: plain text, lines kept
    context = {
        "article": article, "body_html": render_markdown(article.body, line_breaks=reply),
        "source_url": source_url, "preview": preview,
    }  # fmt: skip
    response = render(request, "support/article.html", context)
    if preview:
        patch_cache_control(response, private=True, no_store=True)
        response["X-Robots-Tag"] = "noindex"
    return response
