"""The embeddable widget in a real browser: on the demo page, on a phone, and on another site (CORS)."""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from support.models import AnswerPolicy, Question, Ticket
from tests.browser.conftest import Tab, open_tab
from tests.conftest import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def open_widget_by_keyboard(tab: Tab) -> None:
    launcher = tab.page.locator("[data-support-widget] .launcher")
    launcher.focus()
    tab.page.keyboard.press("Enter")
    assert launcher.get_attribute("aria-expanded") == "true"
    assert tab.page.evaluate("document.activeElement.shadowRoot.activeElement.name") == "question"


def ask_anew(tab: Tab, question: str) -> Any:
    """Start a new conversation in the open panel, ask ``question`` and return its reply."""
    tab.page.locator("[data-support-widget] .new-conversation").click()
    tab.page.keyboard.type(question)
    tab.page.keyboard.press("Enter")
    reply = tab.page.locator("[data-support-widget] .reply").last
    reply.wait_for()
    return reply


def test_widget_on_the_demo_page_answers_with_sources_and_escalates(
    tab: Tab, live_server: Any, sample_articles: dict[str, Any], worker: Worker
) -> None:
    page = tab.page
    page.goto(f"{live_server.url}/widget/demo/?lang=en")
    launcher = page.locator("[data-support-widget] .launcher")
    assert launcher.inner_text() == "Help"
    # The host page's loud button style does not reach the widget (shadow DOM); the accent does.
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(15, 118, 110)"
    assert page.locator("main button").evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(255, 105, 180)"
    tab.shot("demo-page")
    open_widget_by_keyboard(tab)
    tab.shot("panel-open")
    page.keyboard.type("How do I reset my password?")
    page.keyboard.press("Enter")
    source = page.locator("[data-support-widget] .sources a").first
    assert source.inner_text() == "Resetting your password"
    assert source.get_attribute("href") == f"{live_server.url}/articles/password/"
    assert "30 minutes" in page.locator("[data-support-widget] .log").inner_text()
    tab.shot("answer-with-sources")
    page.locator("[data-support-widget] .link").click()  # "Not what you needed?"
    page.locator("[data-support-widget] input[type=email]").fill("reader@example.com")
    page.locator("[data-support-widget] form.escalate textarea").fill("From the blog")
    page.locator("[data-support-widget] form.escalate button").click()
    sent = page.locator("[data-support-widget] .log .bot", has_text="ticket reference")
    sent.wait_for()
    ticket = Ticket.objects.get()
    assert ticket.reference in sent.inner_text() and ticket.email == "reader@example.com"
    assert ticket.reason == Ticket.Reason.CUSTOMER_REQUEST and ticket.details == "From the blog"
    tab.shot("ticket-sent")
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.name") == "question"  # ready for the next
    page.keyboard.press("Escape")
    assert page.locator("[data-support-widget] .panel").is_hidden()
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.className").startswith("launcher")
    worker.wait_for(lambda: any(ticket.reference in email for email in worker.emails()), what="the acknowledgement")


def test_widget_in_korean_on_a_phone_escalates_when_not_sure(
    browser: Any, request: pytest.FixtureRequest, live_server: Any, sample_articles: dict[str, Any]
) -> None:
    phone = open_tab(browser, request, locale="ko-KR", viewport={"width": 375, "height": 667}, has_touch=True)
    page = phone.page
    page.goto(f"{live_server.url}/widget/demo/")
    launcher = page.locator("[data-support-widget] .launcher")
    assert launcher.inner_text() == "도움말"
    launcher.tap()
    panel = page.locator("[data-support-widget] .panel")
    assert panel.bounding_box()["width"] == 375  # the whole screen
    assert panel.get_attribute("aria-modal") == "true"
    page.locator("[data-support-widget] textarea[name=question]").focus()
    for _ in range(6):  # Tab cycles inside the panel: the page underneath is hidden by it
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.hasAttribute('data-support-widget')")
        assert page.evaluate(f"!!({SHADOW_FOCUS}).closest('.panel')")
    page.locator("[data-support-widget] #support-title").click()  # text, not a control
    page.keyboard.press("Shift+Tab")  # had gone to the launcher and the page beneath
    assert page.evaluate(f"!!({SHADOW_FOCUS}).closest('.panel')")
    # expect() retries until the media query's change event has come (after the resize), without
    # the eval that wait_for_function needs (the page's CSP forbids it)
    page.set_viewport_size({"width": 1280, "height": 800})  # no longer full screen: not modal
    expect(panel).not_to_have_attribute("aria-modal", "true")
    page.set_viewport_size({"width": 375, "height": 667})
    expect(panel).to_have_attribute("aria-modal", "true")
    assert page.locator("[data-support-widget] .new-conversation").inner_text() == "새 대화"
    page.locator("[data-support-widget] textarea[name=question]").fill("화성 탐사선 발사 일정이 궁금합니다")
    page.locator("[data-support-widget] .panel > form button").tap()
    page.locator("[data-support-widget] .warn").wait_for()
    assert "확실하지 않아" in page.locator("[data-support-widget] .warn").inner_text()
    phone.shot("not-sure-on-a-phone")
    page.locator("[data-support-widget] input[type=email]").fill("phone@example.com")
    page.locator("[data-support-widget] form.escalate button").tap()
    page.locator("[data-support-widget] .log .bot", has_text="문의 번호").wait_for()
    assert Ticket.objects.get().reason != Ticket.Reason.CUSTOMER_REQUEST  # escalated for low confidence
    phone.shot("ticket-sent-on-a-phone")
    page.locator("[data-support-widget] .new-conversation").tap()  # another topic
    page.locator("[data-support-widget] textarea[name=question]").fill("환불은 며칠 걸리나요?")
    page.locator("[data-support-widget] .panel > form button").tap()
    feedback = page.locator("[data-support-widget] .reply .feedback")
    feedback.wait_for()
    assert feedback.inner_text().split() == ["답변이", "도움이", "되었나요?", "예", "아니요"]
    assert page.locator("[data-support-widget] .me").all_inner_texts() == ["환불은 며칠 걸리나요?"]
    phone.shot("new-conversation-on-a-phone")
    assert not phone.csp_violations and not phone.page_errors and not phone.dialogs


SHADOW_FOCUS = "document.activeElement.shadowRoot && document.activeElement.shadowRoot.activeElement"


def test_widget_by_keyboard_keeps_the_focus_and_says_a_wrong_email_at_its_field(
    tab: Tab, live_server: Any, sample_articles: dict[str, Any]
) -> None:
    """Enter on "Ask" kept nowhere to focus while the answer loaded (a disabled button drops it),
    so Escape no longer closed the panel; a wrong email was said at the end of the log, not at
    its box (sixteenth session, accessibility pass)."""
    page = tab.page
    page.goto(f"{live_server.url}/widget/demo/?lang=en")
    open_widget_by_keyboard(tab)
    page.keyboard.type("화성 탐사선 발사 일정이 궁금합니다")
    page.keyboard.press("Tab")
    assert page.evaluate(f"({SHADOW_FOCUS}).textContent") == "Ask"
    page.keyboard.press("Enter")
    page.locator("[data-support-widget] .warn").wait_for()  # not sure: the escalation form is offered
    assert page.evaluate(f"({SHADOW_FOCUS}).textContent") == "Ask"  # still where the customer was
    email = page.locator("[data-support-widget] form.escalate input[type=email]")
    email.fill("a@b")  # valid to the browser, not to the portal
    email.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate(f"({SHADOW_FOCUS}).textContent") == "Send to our support team"
    page.keyboard.press("Enter")
    error = page.locator("[data-support-widget] form.escalate .field-error").first
    error.wait_for()
    assert error.inner_text() == "Please enter a valid email address."  # the page's words
    assert email.get_attribute("aria-invalid") == "true" and email.get_attribute(
        "aria-describedby"
    ) == error.get_attribute("id")
    assert page.evaluate(f"({SHADOW_FOCUS}).type") == "email"  # focus at the wrong field
    assert not Ticket.objects.exists()
    page.keyboard.press("Escape")
    assert page.locator("[data-support-widget] .panel").is_hidden()


def test_the_widget_says_why_it_cannot_answer_as_the_answer_page_does(
    tab: Tab, live_server: Any, sample_articles: dict[str, Any]
) -> None:
    """Every escalation had read "we would rather not guess", also when nothing was found or the
    chat model failed (verification pass); the answer page tells them apart."""
    page = tab.page
    page.goto(f"{live_server.url}/widget/demo/?lang=en")
    open_widget_by_keyboard(tab)
    page.keyboard.type("😭😭😭")  # no letter or digit: no_sources
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    warning = page.locator("[data-support-widget] .warn").first
    warning.wait_for()
    assert "We could not find anything about this in our help articles." in warning.inner_text()


def test_an_over_long_question_is_said_at_the_box_and_kept(
    tab: Tab, live_server: Any, sample_articles: dict[str, Any]
) -> None:
    """The box's maxlength had cut a 1,003-character paste to 1,000 without a word (customer
    pass); the page says the limit, so does the widget now, and the text stays to be shortened."""
    page = tab.page
    page.goto(f"{live_server.url}/widget/demo/?lang=en")
    open_widget_by_keyboard(tab)
    box = page.locator("[data-support-widget] #support-question")
    box.fill("환" * 1003)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    error = page.locator("[data-support-widget] #support-question-error")
    error.wait_for()
    assert error.inner_text() == "Questions are limited to 1,000 characters; yours has 1,003."
    assert box.input_value() == "환" * 1003 and box.get_attribute("aria-invalid") == "true"
    assert error.get_attribute("role") == "alert"  # the focus was already in the box: read out all the same
    # An empty box is said at the box too (it had done nothing at all).
    box.fill("  ")
    box.press("Enter")
    page.locator("[data-support-widget] #support-question-error", has_text="Please type a question.").wait_for()
    assert not Question.objects.exists()


def test_enter_that_ends_a_korean_composition_does_not_send(
    tab: Tab, live_server: Any, sample_articles: dict[str, Any]
) -> None:
    page = tab.page
    page.goto(f"{live_server.url}/widget/demo/?lang=ko")
    open_widget_by_keyboard(tab)
    box = page.locator("[data-support-widget] textarea[name=question]")
    box.fill("환불은 며칠 걸리나")  # the IME still composes "요": Enter commits it, it must not send
    composing_enter = "new KeyboardEvent('keydown', {key: 'Enter', isComposing: true, bubbles: true, cancelable: true})"
    box.evaluate(f"el => el.dispatchEvent({composing_enter})")
    page.wait_for_timeout(500)
    assert box.input_value() == "환불은 며칠 걸리나" and not Question.objects.exists()
    box.press("End")
    page.keyboard.type("요?")
    page.keyboard.press("Enter")  # the Enter after the composition sends
    page.locator("[data-support-widget] .reply").first.wait_for()
    assert Question.objects.get().text == "환불은 며칠 걸리나요?"
    assert not tab.page_errors


def test_an_excerpt_from_an_article_in_the_other_language_says_so(
    tab: Tab, live_server: Any, sample_articles: dict[str, Any]
) -> None:
    # The four test articles are too few for this cross-language answer to pass the shipped gate;
    # what is tested here is the note, so the policy answers it (as an admin may set it).
    AnswerPolicy.objects.update_or_create(pk=AnswerPolicy.SINGLETON_PK, defaults={"confidence_threshold": 0.01})
    page = tab.page
    page.goto(f"{live_server.url}/widget/demo/?lang=ko")
    open_widget_by_keyboard(tab)
    page.keyboard.type("비밀번호 재설정 링크는 몇 분 동안 유효한가요?")
    page.keyboard.press("Enter")
    reply = page.locator("[data-support-widget] .reply").first
    reply.wait_for()
    assert "30 minutes" in reply.inner_text()  # quoted from the English article
    assert reply.locator(".other-language").inner_text() == "이 발췌문은 영어 문서에서 가져왔습니다."
    page.locator("[data-support-widget] .new-conversation").click()
    decomposed = unicodedata.normalize("NFD", "환불은 며칠 걸리나요?")  # as macOS types Korean
    page.locator("[data-support-widget] textarea[name=question]").fill(decomposed)
    page.keyboard.press("Enter")
    korean = page.locator("[data-support-widget] .reply").first
    korean.wait_for()
    assert "14일" in korean.inner_text() and not korean.locator(".other-language").count()  # Korean from Korean
    assert korean.locator("p[lang=ko]").count() == 1  # the excerpt carries its article's language
    mixed = ask_anew(tab, "refund 며칠 걸려요 how many days")  # mostly Latin letters: English, as the portal reads it
    assert "14일" in mixed.inner_text()
    assert not mixed.locator(".other-language").count()  # a Korean excerpt in the Korean widget needs no note
    page.goto(f"{live_server.url}/widget/demo/?lang=en")
    open_widget_by_keyboard(tab)
    noted = ask_anew(tab, "refund 며칠 걸려요 how many days")  # the English widget says what the answer page says
    assert noted.locator(".other-language").inner_text() == "This excerpt comes from an article in Korean."
    same = ask_anew(tab, "How long is the password reset link valid?")
    assert "30 minutes" in same.inner_text() and not same.locator(".other-language").count()
    assert "30 minutes" in same.locator("mark.answer-span").inner_text()  # the span, marked as on the answer page
    assert not tab.page_errors


@pytest.fixture
def blog(live_server: Any) -> Iterator[str]:
    """A customer's site at another origin (another port on 127.0.0.1) embedding the widget from the live server."""
    html = (
        f'<!doctype html><html lang="en"><head><script src="{live_server.url}/widget.js" defer></script></head>'
        "<body><h1>Our blog</h1></body></html>"
    ).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_widget_on_an_allowed_site_gets_answers_across_origins(
    tab: Tab, blog: str, sample_articles: dict[str, Any], settings: Any
) -> None:
    settings.CORS_ALLOWED_ORIGINS = [blog]
    tab.page.goto(f"{blog}/")
    open_widget_by_keyboard(tab)
    tab.page.keyboard.type("How much is the Pro plan?")
    tab.page.keyboard.press("Enter")
    assert tab.page.locator("[data-support-widget] .sources a").first.inner_text() == "Plans and pricing"
    tab.shot("answer-on-another-site")


def test_widget_on_a_site_not_in_the_allow_list_gets_no_data_and_says_why(
    tab: Tab, blog: str, sample_articles: dict[str, Any], settings: Any
) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://blog.example.com"]
    tab.page.goto(f"{blog}/")
    open_widget_by_keyboard(tab)
    tab.page.keyboard.type("How much is the Pro plan?")
    tab.page.keyboard.press("Enter")
    tab.page.locator("[data-support-widget] .error").wait_for()
    assert "not available on this site" in tab.page.locator("[data-support-widget] .error").inner_text()
    assert any("PORTAL_WIDGET_ORIGINS" in m and blog in m for m in tab.console_errors), tab.console_errors
    assert not Question.objects.exists()  # the preflight was refused: the question was never sent
    tab.shot("refused-on-another-site")


def test_at_400_percent_zoom_the_answer_gets_the_panel_not_37_pixels(
    browser: Any, request: pytest.FixtureRequest, live_server: Any, sample_articles: dict[str, Any]
) -> None:
    """A 1280×1024 screen at 400% is 320×256 CSS pixels: the fixed header and question form had
    left the conversation 37 px (accessibility pass). Now the panel scrolls as a whole and the
    conversation keeps its full height."""
    zoomed = open_tab(browser, request, viewport={"width": 320, "height": 256}, device_scale_factor=2)
    page = zoomed.page
    page.goto(f"{live_server.url}/widget/demo/?lang=en")
    open_widget_by_keyboard(zoomed)
    page.keyboard.type("What payment methods do you accept?")
    page.keyboard.press("Enter")
    page.locator("[data-support-widget] .log .bot .sources").first.wait_for()
    zoomed.shot("answered-at-400-percent")
    log = page.locator("[data-support-widget] .log")
    assert log.evaluate("e => e.clientHeight >= e.scrollHeight - 1")  # nothing of it clipped
    assert log.evaluate("e => e.clientHeight") > 100
    source = page.locator("[data-support-widget] .log .sources a").first
    assert source.get_attribute("target") == "_blank" and source.get_attribute("aria-describedby") == "support-new-tab"
    assert page.locator("[data-support-widget] #support-new-tab").text_content() == "Opens in a new tab."
    panel = page.locator("[data-support-widget] .panel")
    assert panel.evaluate("e => e.scrollHeight > e.clientHeight")  # the panel scrolls instead
