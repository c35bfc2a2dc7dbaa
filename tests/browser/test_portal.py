"""The customer pages and the admin in a real browser (Chromium), against a live server and the real worker.

Each test leaves numbered screenshots in ``.data/screenshots/<test>/``. The ``tab``
fixture fails a test on any CSP violation, uncaught page error or dialog.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import Tab, open_tab
from tests.conftest import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def ask(tab: Tab, base: str, question: str) -> None:
    tab.page.goto(f"{base}/")
    tab.page.fill("textarea[name=question]", question)
    tab.page.click("main button[type=submit]")
    tab.page.wait_for_url("**/questions/*/")


def test_ask_shows_the_answer_with_its_sources(tab: Tab, live_server: Any, sample_articles: dict[str, Any]) -> None:
    page = tab.page
    page.goto(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "How can we help?"
    page.fill("textarea[name=question]", "How do I reset my password?")
    tab.shot("question-typed")
    page.click("main button[type=submit]")
    page.wait_for_url("**/questions/*/")
    assert "30 minutes" in page.locator("#answer").inner_text()
    sources = page.locator("#sources a")
    assert sources.first.inner_text() == "Resetting your password"
    tab.shot("answer-with-sources")
    sources.first.click()
    page.wait_for_url("**/articles/password/")
    assert page.locator("article h1").inner_text() == "Resetting your password"
    tab.shot("source-article")


def test_korean_question_is_answered_in_the_korean_ui(
    browser: Any, request: pytest.FixtureRequest, live_server: Any, sample_articles: dict[str, Any]
) -> None:
    korean = open_tab(browser, request, locale="ko-KR")
    ask(korean, live_server.url, "환불은 며칠 안에 처리되나요?")
    assert korean.page.locator("#sources h2").inner_text() == "출처"
    assert korean.page.locator("#sources a").first.inner_text() == "환불 정책 안내"
    korean.shot("korean-answer")
    assert not korean.csp_violations and not korean.page_errors


def test_not_sure_escalates_to_a_ticket_and_the_worker_emails_it(
    tab: Tab, live_server: Any, sample_articles: dict[str, Any], worker: Worker
) -> None:
    page = tab.page
    ask(tab, live_server.url, "What is the launch schedule of the Mars probe?")
    assert page.locator("#not-sure").is_visible()
    assert page.locator("#answer").count() == 0  # no guess
    tab.shot("not-sure")
    page.fill("input[name=email]", "customer@example.com")
    page.fill("textarea[name=details]", "Please answer by email.")
    tab.shot("escalation-form-filled")
    page.click("#escalate button[type=submit]")
    page.wait_for_url("**/tickets/T-*/")
    reference = page.locator("strong").first.inner_text()
    assert reference.startswith("T-") and "Mars probe" in page.locator("main").inner_text()
    tab.shot("ticket-page")
    worker.wait_for(
        lambda: any(reference in email and "customer@example.com" in email for email in worker.emails()),
        timeout=60,
        what="the acknowledgement email",
    )


PAYLOAD_BODY = """Gift cards are refunded to the original card within 5 days.

<script>window.pwned = 'script'; alert('script')</script>
<img src="x" onerror="window.pwned = 'img'; alert('img')">
<svg onload="alert('svg')"></svg>
<iframe src="javascript:alert('iframe')"></iframe>
<a href="javascript:alert('link')" id="raw-link">raw link</a>

[markdown link](javascript:alert('markdown'))
"""


def test_an_article_with_a_script_payload_runs_nothing(tab: Tab, live_server: Any, make_article: Any) -> None:
    make_article("<img src=x onerror=alert('title')> Gift cards", PAYLOAD_BODY, language="en", slug="gift-cards")
    page = tab.page
    page.goto(f"{live_server.url}/articles/gift-cards/")
    assert "refunded to the original card" in page.locator("article").inner_text()
    assert "onerror" in page.locator("article h1").inner_text()  # the title shows as text
    for text in ("raw link", "markdown link"):
        link = page.locator("article a", has_text=text)
        if link.count():
            link.first.click()
    page.wait_for_timeout(500)
    tab.shot("article-with-payload")
    assert page.evaluate("window.pwned") is None
    assert page.locator("article script, article iframe, article svg, article [onerror], article [onload]").count() == 0
    assert page.locator("article a[href^='javascript']").count() == 0
    ask(tab, live_server.url, "How are gift cards refunded?")  # the excerpt carries the payload too
    page.wait_for_timeout(500)
    tab.shot("question-citing-the-payload")
    assert page.evaluate("window.pwned") is None
    assert tab.dialogs == []


def test_an_article_saved_in_admin_becomes_indexed_and_answers(
    tab: Tab, live_server: Any, admin_user: Any, worker: Worker
) -> None:
    page = tab.page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/knowledge/article/add/")
    page.locator("#id_title").press_sequentially("Pet policy")  # typed: the slug follows
    assert page.input_value("#id_slug") == "pet-policy"  # the admin's own JavaScript ran under the CSP
    page.select_option("#id_language", "en")
    page.select_option("#id_status", "published")
    page.fill("#id_published_at_0", "2026-01-15")
    page.fill("#id_published_at_1", "10:00:00")
    page.fill("#id_body", "Small dogs and cats may stay in the lounge if they are on a leash or in a carrier.")
    tab.shot("admin-article-form")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    state = page.locator(".field-index_state .readonly")
    deadline = time.monotonic() + 120
    while state.inner_text().strip() != "Indexed":
        assert state.inner_text().strip() != "Failed", page.locator(".field-index_error").inner_text()
        assert time.monotonic() < deadline, f"still {state.inner_text()!r} after 120 s"
        page.wait_for_timeout(1000)
        page.reload()
    assert int(page.locator(".field-chunk_count .readonly").inner_text()) >= 1
    tab.shot("admin-article-indexed")
    ask(tab, live_server.url, "Can small dogs and cats stay in the lounge?")
    # Found by retrieval (a lone article may still fall under the confidence threshold).
    assert page.locator("#sources a, #might-help a").first.inner_text() == "Pet policy"
    tab.shot("customer-answer-from-the-new-article")


def test_no_page_violates_the_content_security_policy(
    tab: Tab, live_server: Any, sample_articles: dict[str, Any], admin_user: Any
) -> None:
    page = tab.page
    base = live_server.url
    ask(tab, base, "How much is the Pro plan?")
    tab.shot("question")
    question_url = page.url
    for path in ("/", question_url.removeprefix(base), "/articles/plans/", "/api/docs/", "/admin/login/"):
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        tab.shot(path.strip("/").replace("/", "-") or "home")
    page.goto(f"{base}/api/docs/")
    page.wait_for_selector("#swagger-ui .opblock")  # Swagger UI rendered from local files
    tab.shot("swagger-ui")
    assert tab.csp_violations == [], tab.csp_violations
    # The detector works: an inline style injected into the page is refused and reported.
    page.goto(f"{base}/")
    page.evaluate("document.head.insertAdjacentHTML('beforeend', '<style>body { color: red }</style>')")
    page.wait_for_timeout(300)
    assert any("style-src" in v for v in tab.csp_violations), tab.console_errors
    tab.console_errors.clear()  # the provoked violation is not a failure of the pages


def test_switching_language_keeps_what_the_customer_typed(tab: Tab, live_server: Any) -> None:
    page = tab.page
    page.goto(f"{live_server.url}/")
    page.fill("textarea[name=question]", "배송비는 얼마인가요? 제주도도 같나요?")
    page.click("header form.lang button[value=ko]")
    page.wait_for_function("document.documentElement.lang === 'ko'")
    assert page.input_value("textarea[name=question]") == "배송비는 얼마인가요? 제주도도 같나요?"  # it had been emptied
    page.reload()  # kept for the one switch only
    assert page.input_value("textarea[name=question]") == ""


# Every word of each table cell on one line: a word split over two lines gives two rectangles.
BROKEN_WORDS_JS = """
() => [...document.querySelectorAll('article td, article th')].flatMap((cell) => {
  const node = cell.firstChild; if (!node || node.nodeType !== 3) return [];
  const text = node.textContent, broken = [];
  for (const m of text.matchAll(/\\S+/g)) {
    const range = document.createRange();
    range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
    if (range.getClientRects().length > 1) broken.push(m[0]);
  }
  return broken;
})
"""


def test_an_article_table_scrolls_on_a_phone_rather_than_split_words(
    browser: Any, request: Any, live_server: Any, make_article: Any
) -> None:
    """At 360 px the membership table had read "₩4,90 / 0 per / month" and "mont / hly": the
    page's ``overflow-wrap: anywhere`` squeezed the cells below their words' width."""
    body = (
        "## Plans\n\n| Plan | Price | Free shipping |\n|---|---|---|\n"
        "| Plus monthly | ₩4,900 per month | on purchases of ₩30,000 or more |\n"
        "| Plus yearly | ₩49,000 per year | on every order, standard delivery |\n"
    )
    make_article("Nabi Plus membership plans", body, language="en", slug="plus-plans", index=False)
    tab = open_tab(browser, request, viewport={"width": 360, "height": 740})
    page = tab.page
    page.goto(f"{live_server.url}/articles/plus-plans/")
    tab.shot("table-at-360px")
    assert page.evaluate(BROKEN_WORDS_JS) == []
    # Wider than the screen, the table would scroll inside itself; the page never does.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
