"""The widget's conversation in a real browser: follow-ups, the thread kept across reloads,
feedback, escalating a follow-up, a conversation the portal no longer knows, and streamed answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.models import Conversation, Feedback, Question, Ticket
from tests.browser.conftest import Tab
from tests.browser.test_widget import open_widget_by_keyboard

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

W = "[data-support-widget]"


def record_questions(tab: Tab) -> list[dict[str, Any]]:
    """The JSON bodies (and Accept header, as ``_accept``) of the widget's ``POST /api/v1/questions/``."""
    sent: list[dict[str, Any]] = []

    def on_request(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/api/v1/questions/"):
            sent.append({**request.post_data_json, "_accept": request.headers.get("accept", "")})

    tab.page.on("request", on_request)
    return sent


def ask(tab: Tab, question: str) -> None:
    """Type a question in the panel and wait for its answer (a reply ends the thread again)."""
    box = tab.page.locator(f"{W} textarea[name=question]")
    box.fill(question)
    box.press("Enter")  # the question and "thinking" are shown before this returns
    tab.page.locator(f"{W} .log > .msg:last-child.reply").wait_for()


def active_element(tab: Tab, prop: str) -> Any:
    return tab.page.evaluate(f"document.activeElement.shadowRoot.activeElement.{prop}")


def test_widget_follows_up_in_one_conversation_kept_across_reloads(
    tab: Tab, live_server: Any, sample_articles: dict[str, Any]
) -> None:
    page = tab.page
    sent = record_questions(tab)
    answered: list[tuple[int, str]] = []  # (status, content type) of the portal's answers
    page.on(
        "response",
        lambda r: (
            answered.append((r.status, r.headers.get("content-type", "")))
            if r.request.method == "POST" and r.url.endswith("/api/v1/questions/")
            else None
        ),
    )
    page.goto(f"{live_server.url}/widget/demo/?lang=en")
    open_widget_by_keyboard(tab)
    ask(tab, "How do I reset my password?")
    assert page.locator(f"{W} .reply .sources a").first.inner_text() == "Resetting your password"
    ask(tab, "How long does the reset link stay valid?")
    tab.shot("follow-up-answered")
    # The live portal streamed both answers (200, Server-Sent Events) and the widget took them as answers.
    assert [(s, t.split(";")[0]) for s, t in answered] == [(200, "text/event-stream")] * 2

    first, second = Question.objects.order_by("created_at")
    assert second.conversation_id == first.conversation_id and second.turn == 2
    assert "conversation_id" not in sent[0]
    assert sent[1]["conversation_id"] == first.conversation_id and sent[1]["token"]
    assert all("text/event-stream" in s["_accept"] and "application/json" in s["_accept"] for s in sent)
    mine = page.locator(f"{W} .me")
    assert mine.all_inner_texts() == ["How do I reset my password?", "How long does the reset link stay valid?"]
    assert page.locator(f"{W} .reply").count() == 2
    assert page.locator(f"{W} .offer").count() == 1  # escalation is offered under the latest answer only

    page.reload()  # the thread lives in this tab's sessionStorage
    open_widget_by_keyboard(tab)
    assert mine.all_inner_texts() == ["How do I reset my password?", "How long does the reset link stay valid?"]
    assert page.locator(f"{W} .reply").count() == 2
    assert page.locator(f"{W} .reply .sources a").first.get_attribute("href") == f"{live_server.url}/articles/password/"
    mine.nth(1).evaluate("m => m.scrollIntoView({block: 'start'})")  # the follow-up and its answer
    tab.shot("thread-after-reload")  # docs/widget.png
    ask(tab, "And how do I change my plan?")
    assert sent[2]["conversation_id"] == first.conversation_id  # still the same conversation
    assert Question.objects.get(text__startswith="And how").turn == 3

    page.locator(f"{W} header .close").focus()
    page.keyboard.press("Shift+Tab")  # "New conversation" sits before "Close" in the tab order
    assert active_element(tab, "className") == "new-conversation"
    page.keyboard.press("Enter")
    assert mine.count() == 0 and page.locator(f"{W} .reply").count() == 0
    assert active_element(tab, "name") == "question"
    tab.shot("new-conversation")
    ask(tab, "How much is the Pro plan?")
    assert "conversation_id" not in sent[3]
    assert Conversation.objects.count() == 2
    page.reload()
    open_widget_by_keyboard(tab)
    assert mine.all_inner_texts() == ["How much is the Pro plan?"]


def test_widget_feedback_yes_and_no_then_escalates_the_latest_question(
    tab: Tab, live_server: Any, sample_articles: dict[str, Any]
) -> None:
    page = tab.page
    page.goto(f"{live_server.url}/widget/demo/?lang=en")
    open_widget_by_keyboard(tab)
    ask(tab, "How do I reset my password?")
    first = page.locator(f"{W} .reply").nth(0)
    assert first.locator(".feedback").inner_text().startswith("Did this answer your question?")
    tab.shot("feedback-asked")
    first.locator(".feedback button", has_text="Yes").click()
    first.locator(".feedback-done", has_text="Thank you for your feedback.").wait_for()
    assert active_element(tab, "name") == "comment"  # the buttons are gone: focus moves to the comment
    page.keyboard.type("Clear steps")
    first.locator("form.comment button").click()
    first.locator("p", has_text="we read every comment").wait_for()
    question = Question.objects.get()
    feedback = Feedback.objects.get(question=question)
    assert feedback.helpful and feedback.comment == "Clear steps" and feedback.channel == "api"
    tab.shot("feedback-yes-with-comment")

    ask(tab, "How long does the reset link stay valid?")
    latest = page.locator(f"{W} .reply").nth(1)
    latest.locator(".feedback button", has_text="No").click()
    email = latest.locator("form.escalate input[type=email]")
    email.wait_for()  # "No" offers the escalation form at once, focused
    assert active_element(tab, "type") == "email"
    assert page.locator(f"{W} .offer").count() == 0
    tab.shot("feedback-no-escalation-form")
    page.keyboard.type("reader@example.com")
    latest.locator("form.escalate button").click()
    sent = page.locator(f"{W} .log .bot", has_text="ticket reference")
    sent.wait_for()
    follow_up = Question.objects.get(turn=2)
    assert not Feedback.objects.get(question=follow_up).helpful
    ticket = Ticket.objects.get()
    assert ticket.question_id == follow_up.pk  # the latest question; the server attaches the conversation
    assert ticket.reference in sent.inner_text() and ticket.email == "reader@example.com"
    tab.shot("ticket-sent")
    page.reload()  # verdicts and the ticket stay in the thread
    open_widget_by_keyboard(tab)
    assert page.locator(f"{W} .feedback-done").count() == 2 and page.locator(f"{W} .feedback").count() == 0
    assert page.locator(f"{W} .log .bot", has_text=ticket.reference).count() == 1


def test_widget_restarts_a_conversation_the_portal_no_longer_knows(
    tab: Tab, live_server: Any, sample_articles: dict[str, Any]
) -> None:
    page = tab.page
    sent = record_questions(tab)
    page.goto(f"{live_server.url}/widget/demo/?lang=en")
    open_widget_by_keyboard(tab)
    ask(tab, "How do I reset my password?")
    # The stored token no longer opens the conversation (as when it has expired or is not ours): 404.
    page.evaluate(
        """() => {
            const key = Object.keys(sessionStorage).find((k) => k.startsWith("support-widget:"));
            const thread = JSON.parse(sessionStorage.getItem(key));
            thread.token = "not-the-token";
            thread.entries.forEach((entry) => { if (entry.answer) entry.answer.token = "not-the-token"; });
            sessionStorage.setItem(key, JSON.stringify(thread));
        }"""
    )
    page.reload()
    open_widget_by_keyboard(tab)
    page.locator(f"{W} .reply .feedback button", has_text="No").click()  # rating the old answer: a 404
    refused = page.locator(f"{W} .bot.error").last
    refused.wait_for()
    assert refused.inner_text() == (
        "This conversation is no longer available. Choose New conversation and ask your question again."
    )  # not the API's English detail "No question with this id and token."
    ask(tab, "How much is the Pro plan?")
    assert page.locator(f"{W} .notice").inner_text().startswith("Your earlier conversation is no longer available")
    assert page.locator(f"{W} .me").all_inner_texts() == ["How much is the Pro plan?"]
    assert page.locator(f"{W} .reply .sources a").first.inner_text() == "Plans and pricing"
    tab.shot("restarted")
    expired = Question.objects.get(text__contains="password").conversation_id
    assert [s.get("conversation_id") for s in sent] == [None, expired, None]  # refused, then asked afresh
    assert Conversation.objects.count() == 2
    ask(tab, "Is there a discount for annual billing?")  # the new conversation goes on
    assert sent[3]["conversation_id"] == Question.objects.get(text__contains="Pro plan").conversation_id


# The page's fetch gets the routed response, then hands the widget its body one piece per
# release (as a slow network would), so the test can look between events.
PACED_FETCH = """
const realFetch = window.fetch;
window.fetch = async function (...args) {
  const response = await realFetch.apply(this, args);
  if (!(response.headers.get("content-type") || "").startsWith("text/event-stream")) return response;
  const bytes = new Uint8Array(await response.arrayBuffer());
  const cuts = window.__sseCuts;
  let piece = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (piece >= cuts.length - 1) return controller.close();
      return new Promise((resolve) => {
        window.__sseRelease = () => {
          controller.enqueue(bytes.slice(cuts[piece], cuts[piece + 1]));
          piece += 1;
          resolve();
        };
      });
    },
  });
  return new Response(body, { status: response.status, headers: response.headers });
};
"""


def sse(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def test_widget_streams_an_answer_from_server_sent_events(tab: Tab, live_server: Any) -> None:
    page = tab.page
    sources = [{"title": "Resetting your password", "url": "/articles/password/", "excerpt": "...", "score": 0.9,
                "language": "en"}]  # fmt: skip
    done = {
        "id": 4242, "conversation_id": 77, "token": "secret", "answer": "Open Settings → Forgot password. 30분.",
        "answer_kind": "llm", "answer_span": None, "confidence": 0.91, "escalation_recommended": False,
        "status": "answered", "sources": sources,
    }  # fmt: skip
    delta = sse("delta", {"text": "Settings → Forgot password. 30분."})
    arrow = delta.index("→".encode()) + 1  # a piece ends inside the arrow's UTF-8 bytes
    pieces = [
        sse("sources", sources),
        b": keep-alive\n\n" + sse("delta", {"text": "Open "}),
        delta[:arrow],
        delta[arrow:],
        sse("done", done),
    ]
    cuts = [0]
    for piece in pieces:
        cuts.append(cuts[-1] + len(piece))
    seen: list[dict[str, str]] = []

    def fulfil(route: Any) -> None:
        seen.append(route.request.headers)
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream; charset=utf-8"}, body=b"".join(pieces))

    page.add_init_script(PACED_FETCH)
    page.route("**/api/v1/questions/", fulfil)
    page.goto(f"{live_server.url}/widget/demo/?lang=en")
    page.evaluate("cuts => { window.__sseCuts = cuts; }", cuts)
    open_widget_by_keyboard(tab)
    box = page.locator(f"{W} textarea[name=question]")
    box.fill("How do I reset my password?")
    box.press("Enter")
    streaming = page.locator(f"{W} .streaming")
    log = page.locator(f"{W} .log")
    text = streaming.locator("p.answer")

    def release() -> None:
        page.wait_for_function("() => typeof window.__sseRelease === 'function'")
        page.evaluate("() => { const go = window.__sseRelease; window.__sseRelease = null; go(); }")

    release()  # the sources
    assert streaming.locator(".sources a").inner_text() == "Resetting your password"
    assert text.inner_text() == "" and log.get_attribute("aria-busy") == "true"
    release()  # a comment and the first delta
    page.wait_for_function(
        "() => document.querySelector('[data-support-widget]').shadowRoot.querySelector('p.answer').textContent"
        " === 'Open '"
    )
    tab.shot("streaming-first-delta")
    release()  # half an event, cut inside a character: nothing new yet
    assert text.inner_text().strip() == "Open" and page.locator(f"{W} .reply").count() == 0
    release()
    page.wait_for_function(
        "() => document.querySelector('[data-support-widget]').shadowRoot.querySelector('p.answer')"
        ".textContent.endsWith('30분.')"
    )
    assert text.inner_text() == "Open Settings → Forgot password. 30분."
    assert page.locator(f"{W} .feedback").count() == 0  # not final until `done`
    tab.shot("streaming-second-delta")
    release()  # done: the answer is final, with feedback and the escalation offer
    reply = page.locator(f"{W} .reply")
    reply.wait_for()
    assert streaming.count() == 0 and log.get_attribute("aria-busy") is None
    assert reply.locator("p").first.inner_text() == done["answer"]
    assert reply.locator(".sources a").get_attribute("href") == f"{live_server.url}/articles/password/"
    assert reply.locator(".feedback button").count() == 2 and reply.locator(".offer").count() == 1
    assert "text/event-stream" in seen[0]["accept"]
    stored = page.evaluate(
        "() => JSON.parse(sessionStorage.getItem(Object.keys(sessionStorage).find((k) => k.startsWith('support-widget:'))))"
    )
    assert stored["conversationId"] == 77 and stored["token"] == "secret"
    tab.shot("streamed-answer-final")


def test_widget_marks_the_span_where_the_answer_says_it_not_where_it_first_appears(tab: Tab, live_server: Any) -> None:
    page = tab.page
    answer = "🚚 Dawn delivery is free on orders of ₩15,000 or more. International shipping is ₩15,000 per order."
    start = answer.rindex("₩15,000")  # counted in code points, as the API counts; the lorry is two UTF-16 units
    body = {
        "id": 4243, "conversation_id": 78, "token": "secret", "answer": answer, "answer_kind": "extractive",
        "answer_span": "₩15,000", "answer_span_start": start, "confidence": 0.93, "escalation_recommended": False,
        "status": "answered", "sources": [{"title": "Shipping times and fees", "url": "/articles/shipping/",
                                           "excerpt": answer, "score": 0.9, "language": "en"}],
    }  # fmt: skip
    page.route("**/api/v1/questions/", lambda route: route.fulfill(status=201, json=body))
    page.goto(f"{live_server.url}/widget/demo/?lang=en")
    open_widget_by_keyboard(tab)
    ask(tab, "How much is international shipping?")
    reply = tab.page.locator(f"{W} .reply").last
    text = reply.locator("p").first
    assert text.inner_text() == answer
    assert text.locator("mark.answer-span").inner_text() == "₩15,000"
    before = text.evaluate("p => p.firstChild.textContent")
    assert before.endswith("International shipping is ") and "orders of ₩15,000" in before
    body["answer_span_start"] = 3  # not where the span stands: the text is shown unmarked, never cut wrongly
    tab.page.locator(f"{W} .new-conversation").click()
    ask(tab, "How much is international shipping?")
    again = tab.page.locator(f"{W} .reply").last.locator("p").first
    assert again.inner_text() == answer and again.locator("mark").count() == 0
    assert not tab.page_errors


def test_widget_says_when_a_second_escalation_was_added_to_the_ticket(tab: Tab, live_server: Any) -> None:
    page = tab.page
    body = {
        "id": 4244, "conversation_id": 79, "token": "secret", "answer": "14일 이내에 반품할 수 있습니다.",
        "answer_kind": "extractive", "answer_span": None, "answer_span_start": None, "confidence": 0.93,
        "escalation_recommended": False, "status": "answered", "sources": [],
    }  # fmt: skip
    conflict = {"detail": "already", "reference": "T-ABCDEF12", "status": "open", "added": True}
    page.route("**/api/v1/questions/", lambda route: route.fulfill(status=201, json=body))
    page.route("**/api/v1/tickets/", lambda route: route.fulfill(status=409, json=conflict))
    page.goto(f"{live_server.url}/widget/demo/?lang=en")
    open_widget_by_keyboard(tab)
    ask(tab, "How long can I return things?")
    page.locator(f"{W} .offer").click()
    page.locator(f"{W} input[type=email]").fill("kim@example.com")
    page.locator(f"{W} form.escalate textarea").fill("주문번호 NB-42")
    page.locator(f"{W} form.escalate button").click()
    said = page.locator(f"{W} .log .bot", has_text="T-ABCDEF12")
    said.wait_for()
    assert (
        "You already sent this question" in said.inner_text() and "What you wrote was added to it." in said.inner_text()
    )
    assert not tab.page_errors
