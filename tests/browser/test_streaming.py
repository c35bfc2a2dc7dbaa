"""The ask page streams its answer (support/ask-stream.js) in a real browser, then opens the question page."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_django import Settings

from tests.browser.conftest import Tab
from tests.fake_openai import CHAT, FakeOpenAI, chat_reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

ANSWER = (
    "Open Settings and choose Forgot password. We email you a reset link, and the link stays valid for "
    "30 minutes, so use it soon."
)


def test_the_answer_streams_in_with_its_sources_then_the_question_page_opens(
    tab: Tab,
    live_server: Any,
    sample_articles: dict[str, Any],
    fake_openai: FakeOpenAI,
    settings: Settings,
) -> None:
    fake_openai.apply_settings(settings, timeout=5.0)
    settings.CHAT_PROVIDER = "openai"
    fake_openai.tokens_per_second = 12  # ~40 tokens: a few seconds to watch it arrive
    reply = {"answer": ANSWER, "cited_sources": [1], "answerable": True}
    fake_openai.script(
        chat_reply(reply),
        chat_reply({"question": "Is the password reset link still valid after an hour?"}),  # the follow-up rewrite
        chat_reply(reply | {"answer": "No: it is valid for 30 minutes from the email."}),
    )
    page = tab.page
    page.goto(f"{live_server.url}/")
    page.fill("textarea[name=question]", "How do I reset my password?")
    page.click("main button[type=submit]")
    # never the page itself: the busy button keeps the focus (a disabled one dropped it) until
    # the streamed answer takes it
    assert page.evaluate("document.activeElement !== document.body")
    page.locator("#streamed-sources a").first.wait_for()
    assert page.locator("#streamed-sources a").first.inner_text() == "Resetting your password"
    page.locator("#streamed-answer").wait_for(state="visible")  # shown with the first piece
    assert page.evaluate("document.activeElement.id") == "streamed"  # the hidden form's focus is not lost
    partial = page.locator("#streamed-text").inner_text()
    assert partial and ANSWER.startswith(partial) and partial != ANSWER  # still arriving
    assert "/questions/" not in page.url
    tab.shot("answer-streaming-in")
    page.wait_for_url("**/questions/*/")
    assert ANSWER in page.locator("#answer").inner_text()
    assert page.locator("#sources a").first.inner_text() == "Resetting your password"
    tab.shot("question-page")
    first_page = page.url
    page.fill("#follow-up textarea[name=question]", "Is the link still valid after an hour?")
    page.click("#follow-up button[type=submit]")
    page.locator("#streamed-answer").wait_for(state="visible")
    tab.shot("follow-up-streaming-in")
    page.wait_for_url(lambda url: url != first_page and "/questions/" in url)
    assert "30 minutes from the email" in page.locator("#answer").inner_text()
    assert page.locator("#conversation").is_visible()  # the same conversation, in the same session
    answers = [r for r in fake_openai.requests_to(CHAT) if r.body.get("stream")]
    assert len(answers) == 2  # both answers were streamed


def test_a_question_sent_back_with_an_error_has_the_focus(tab: Tab, live_server: Any) -> None:
    """The script writes the error page it was sent instead of posting again; the written page's
    autofocus was not applied, so the focus was nowhere (sixteenth session, accessibility pass)."""
    page = tab.page
    page.goto(f"{live_server.url}/")
    page.fill("textarea[name=question]", "가" * 1001)
    page.click("main button[type=submit]")
    page.locator(".errorlist").first.wait_for()
    assert page.evaluate("document.activeElement.name") == "question"
    assert page.locator("textarea[name=question]").get_attribute("aria-invalid") == "true"


def test_the_question_shows_at_once_and_a_failed_answer_is_said_as_an_error(tab: Tab, live_server: Any) -> None:
    """Accessibility pass (twentieth session): nothing but a dimmed button showed until the first
    byte (3 s on a cold start), and a failed request left a small grey line under an empty quote."""
    page = tab.page
    page.goto(f"{live_server.url}/")
    held: list[Any] = []
    page.route("**/", lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    page.fill("textarea[name=question]", "How long does shipping take?")
    page.click("main button[type=submit]")
    page.locator("#streamed").wait_for(state="visible")  # while the request is still held
    assert held and page.locator("#streamed-question").inner_text() == "How long does shipping take?"
    assert page.locator("#streamed-status").inner_text() == "Looking through our help articles…"
    # shown once: the form that still held it is hidden, its focus taken by the panel
    assert page.locator("main form[data-stream]").is_hidden()
    assert page.evaluate("document.activeElement.id") == "streamed"
    tab.shot("sent-and-waiting")
    held[0].abort()
    status = page.locator("#streamed-status.error")
    status.wait_for()
    assert status.inner_text() == "The answer was interrupted. Please ask again."
    assert status.get_attribute("role") == "alert"
    assert page.evaluate("document.activeElement.name") == "question"  # the form is given back
    tab.shot("interrupted")


def test_an_empty_question_gets_the_portals_message_in_the_pages_language(browser: Any, request: Any,
                                                                        live_server: Any) -> None:  # fmt: skip
    """The form is novalidate: the browser's own "Please fill out this field." bubble, in the
    browser's language (English on a Korean page), gave way to the portal's message."""
    from tests.browser.conftest import open_tab

    tab = open_tab(browser, request, locale="ko-KR")
    page = tab.page
    page.goto(f"{live_server.url}/")
    page.click("main button[type=submit]")
    page.locator(".errorlist").first.wait_for()
    assert page.locator(".errorlist").first.inner_text() == "질문을 입력해 주세요."
    assert page.evaluate("document.activeElement.name") == "question"
