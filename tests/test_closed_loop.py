"""Staff replies become knowledge, with the real worker: a question the articles can't answer
→ ticket → an agent replies and ticks "Add to knowledge base" → a curated answer in draft →
a content editor publishes it → the worker indexes it → the same question is answered from
it, cited as "Support answer" → unpublished, it is no longer used. And "Draft reply" written by the worker,
an article taught a customer's wording, and a question remembered as one no article answers.

Both use ``fault_worker``: the worker is restarted afterwards, so later tests that count
the worker's emails start from an empty folder.
"""

import math
import re

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from knowledge.models import Article, CuratedAnswer, KnownGap
from support.confidence import KNOWN_GAP_FACTOR
from support.models import EmailDelivery, Question, Ticket
from support.roles import CONTENT_EDITORS, SUPPORT_AGENTS
from support.services import question_answer
from support.tickets import ticket_create
from tests.html_forms import form_data

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

QUESTION = "선물 포장 서비스가 있나요?"
ANSWER = "네, 선물 포장 서비스를 제공합니다. 주문서에서 선물 포장을 선택하면 포장비 2,000원이 추가됩니다."


def staff(username: str, group: str) -> Client:
    user = User.objects.create_user(username, f"{username}@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def escalate(text: str, email: str = "kim@example.com") -> Ticket:
    return ticket_create(question=question_answer(text=text).question, email=email)


def change_url(ticket: Ticket) -> str:
    return reverse("admin:support_ticket_change", args=[ticket.pk])


def ask(client: Client, text: str) -> Question:
    response = client.post(reverse("support:ask"), {"question": text})
    assert response.status_code == 302
    return Question.objects.get(pk=int(re.search(r"/questions/(\d+)/", response["Location"])[1]))


def test_reply_becomes_a_support_answer_that_answers_the_same_question(
    sample_articles: object, fault_worker: object
) -> None:
    agent, editor = staff("agent", SUPPORT_AGENTS), staff("editor", CONTENT_EDITORS)
    wait_for = fault_worker.wait_for  # type: ignore[attr-defined]

    # 1. The articles can't answer it: the customer escalates.
    customer = Client()
    first = ask(customer, QUESTION)
    assert first.escalation_recommended
    customer.post(reverse("support:escalate", kwargs={"question_id": first.pk}), {"email": "kim@example.com"})
    ticket = Ticket.objects.get(question=first)

    # 2. The agent replies and adds it to the knowledge base.
    url = reverse("admin:support_ticket_change", args=[ticket.pk])
    data = form_data(agent.get(url).content.decode(), "ticket_form")
    response = agent.post(
        url,
        data | {"reply": ANSWER, "add_to_knowledge": "on", "knowledge_variants": "선물 포장 되나요?\n\n",
                "_send_reply": "Send reply"},
        follow=True,
    )  # fmt: skip
    assert "A curated answer was created in draft" in response.content.decode()
    curated = CuratedAnswer.objects.get()
    assert (curated.question, curated.answer, curated.language) == (QUESTION, ANSWER, "ko")
    assert curated.variants == "선물 포장 되나요?" and curated.origin_reference == ticket.reference
    assert curated.status == CuratedAnswer.Status.DRAFT and curated.article is None
    reply = ticket.deliveries.get(kind=EmailDelivery.Kind.REPLY)
    wait_for(lambda: EmailDelivery.objects.get(pk=reply.pk).state == "sent", timeout=60, what="the reply email")
    assert "Added to knowledge base" in agent.get(url).content.decode()  # in the ticket's history

    # 3. Agents may propose but not publish; the editor publishes.
    changelist = reverse("admin:knowledge_curatedanswer_changelist")
    assert 'value="publish"' not in agent.get(changelist).content.decode()
    agent.post(changelist, {"action": "publish", "_selected_action": [str(curated.pk)]})
    assert CuratedAnswer.objects.get().status == CuratedAnswer.Status.DRAFT
    editor.post(changelist, {"action": "publish", "_selected_action": [str(curated.pk)]})
    curated.refresh_from_db()
    article = curated.article
    assert curated.status == CuratedAnswer.Status.PUBLISHED and article is not None
    assert (article.kind, article.title, article.status) == (Article.Kind.SUPPORT_ANSWER, QUESTION, "published")
    wait_for(
        lambda: Article.objects.get(pk=article.pk).index_state == Article.IndexState.INDEXED,
        timeout=120, what="the support answer to be indexed",
    )  # fmt: skip

    # 4. The same question is now answered from it, cited as "Support answer" (page and API).
    again = ask(Client(), QUESTION)
    assert again.status == Question.Status.ANSWERED, (again.confidence, again.sources[:1])
    top = again.sources[0]
    assert top["article_id"] == article.pk and top["kind"] == "support_answer" and top.get("cited")
    assert "2,000원" in again.answer or "선물 포장" in again.answer
    browser = Client()
    question = ask(browser, QUESTION)
    page = browser.get(reverse("support:question", kwargs={"question_id": question.pk}), HTTP_ACCEPT_LANGUAGE="en")
    sources = page.content.decode().split('id="sources"')[1]
    assert "Support answer" in sources and QUESTION in sources
    api = Client().post(reverse("api:questions"), {"question": QUESTION}, content_type="application/json")
    assert api.status_code == 201 and api.json()["sources"][0]["kind"] == "support_answer"

    # 5. Unpublished, retrieval no longer uses it.
    editor.post(changelist, {"action": "unpublish", "_selected_action": [str(curated.pk)]})
    assert Article.objects.get(pk=article.pk).status == Article.Status.DRAFT
    after = ask(Client(), QUESTION)
    assert all(s["article_id"] != article.pk for s in after.sources)


def test_draft_reply_is_written_by_the_worker_and_never_overwrites_the_agents_text(
    admin_client: Client, sample_articles: object, fault_worker: object
) -> None:
    admin_client.cookies["django_language"] = "en"
    ticket = escalate("환불은 며칠 안에 되나요?")
    url = change_url(ticket)
    data = form_data(admin_client.get(url).content.decode(), "ticket_form")
    assert admin_client.post(url, data | {"_draft_reply": "Draft reply"}).status_code == 302
    assert "Being written" in admin_client.get(url).content.decode()

    def state() -> str:
        return str(Ticket.objects.get(pk=ticket.pk).draft_state)

    fault_worker.wait_for(lambda: state() == "ready", timeout=60, what="the draft")  # type: ignore[attr-defined]
    ticket.refresh_from_db()
    assert ticket.draft_kind == "extractive" and "환불" in ticket.draft_text
    assert (
        "출처:\n[1] 환불 정책 안내 — " in ticket.draft_text
    )  # in the question's language: it goes to the customer and "/articles/refund/" in ticket.draft_text
    assert ticket.draft_sources[0]["title"] == "환불 정책 안내"
    assert ticket.reply_draft == ticket.draft_text  # the untouched box got the draft
    data = form_data(admin_client.get(url).content.decode(), "ticket_form")
    assert data["reply"] == ticket.draft_text  # editable before sending

    # The agent edits the box and asks for another draft: the box keeps the agent's text.
    admin_client.post(url, data | {"reply": "제가 고친 답변입니다.", "_draft_reply": "Draft reply"})
    fault_worker.wait_for(lambda: state() == "ready", timeout=60, what="the second draft")  # type: ignore[attr-defined]
    ticket.refresh_from_db()
    assert ticket.reply_draft == "제가 고친 답변입니다." and "환불" in ticket.draft_text
    page = admin_client.get(url).content.decode()
    assert "Your own text stays in the reply box" in page
    data = form_data(page, "ticket_form")
    admin_client.post(url, data | {"_send_reply": "Send reply"})
    ticket.refresh_from_db()
    assert ticket.reply == "제가 고친 답변입니다." and ticket.status == Ticket.Status.ANSWERED


WORDING = "연간 결제하면 할인돼요?"  # "does paying yearly get a discount?": the English plans article says so


def test_an_agent_teaches_an_article_a_customers_wording_and_the_next_customer_is_answered(
    sample_articles: object, fault_worker: object
) -> None:
    """The learning loop: an escalated question the English plans article answers (its top
    source was the Korean shipping article) → an agent who may change articles adds its
    wording to that article from the ticket page →
    the worker re-indexes it → the same wording is answered from it. An agent who may not
    change articles neither sees the control nor gets a change through."""
    plans = sample_articles["plans"]  # type: ignore[index]
    first = ask(Client(), WORDING)
    assert first.status != Question.Status.ANSWERED, (first.confidence, first.sources[:1])
    ticket = escalate(WORDING)
    url = change_url(ticket)

    agent = staff("agent", SUPPORT_AGENTS)
    page = agent.get(url).content.decode()
    assert "Teach the help centre" not in page
    data = form_data(page, "ticket_form")
    response = agent.post(url, data | {"wording_article": str(plans.pk), "wording": WORDING}, follow=True)
    assert "Only staff who may change articles" in response.content.decode()
    assert Article.objects.get(pk=plans.pk).aliases == ""

    lead = staff("lead", SUPPORT_AGENTS)  # an agent who is also a content editor
    User.objects.get(username="lead").groups.add(Group.objects.get(name=CONTENT_EDITORS))
    page = lead.get(url).content.decode()
    assert "Teach the help centre" in page
    data = form_data(page, "ticket_form")
    assert data["wording"] == WORDING  # prefilled with the question, for the agent to edit
    select = page.split('name="wording_article"')[1].split("</select>")[0]
    offered = [int(pk) for pk in re.findall(r'<option value="(\d+)"', select)]
    shown = list(dict.fromkeys(source["article_id"] for source in ticket.question.sources))
    assert offered[: len(shown)] == shown and set(offered) == set(a.pk for a in sample_articles.values())  # type: ignore[attr-defined]
    taught = {"wording_article": str(plans.pk), "wording_answer": "annual billing saves"}  # words of its sentence
    response = lead.post(url, data | taught, follow=True)
    assert "now also answers “연간 결제하면 할인돼요?”" in response.content.decode()
    assert Article.objects.get(pk=plans.pk).aliases == WORDING
    assert Article.objects.get(pk=plans.pk).alias_answers == {WORDING: "Annual billing saves 20%."}
    assert "Wording added to an article" in lead.get(url).content.decode()  # in the ticket's history
    again = lead.post(
        url,
        form_data(lead.get(url).content.decode(), "ticket_form") | {"wording_article": str(plans.pk)},
        follow=True,
    )
    assert "already has this line" in again.content.decode()
    assert again.redirect_chain[-1][0] == url and "changed successfully" not in again.content.decode()  # stays
    history = reverse("admin:knowledge_article_history", args=[plans.pk])
    assert "Changed Also asked as." in lead.get(history).content.decode()  # the article's own admin history

    fault_worker.wait_for(  # type: ignore[attr-defined]
        lambda: Article.objects.get(pk=plans.pk).index_state == Article.IndexState.INDEXED,
        timeout=120, what="the article to be re-indexed",
    )  # fmt: skip
    answered = ask(Client(), WORDING)
    assert answered.status == Question.Status.ANSWERED, (answered.confidence, answered.sources[:1])
    assert answered.sources[0]["article_id"] == plans.pk and "20%" in answered.answer


SHIPPING_EN = (
    "Standard delivery takes 1–2 business days and costs ₩3,000. International shipping to the United States, "
    "Japan and Singapore takes 7–14 business days."
)
SHIPPING_LINES = "How long does shipping take?\nHow much is shipping?\nInternational shipping\n해외 배송 되나요?"
GAP = "Do you ship to Canada?"  # the article names the countries it ships to; not whether Canada may follow
ALIKE = "Do you ship internationally to Canada?"


def test_an_agent_marks_a_question_no_article_answers_and_the_next_customer_asking_alike_is_escalated(
    make_article: object, fault_worker: object
) -> None:
    """Known gaps: a question answered from a near-topic article → the customer escalates → an
    editor marks "No article answers this" on the ticket (an agent who may not add known gaps
    neither sees the control nor gets it through) → a customer asking alike is escalated at
    once, while the article's own questions are answered as before. The gap is embedded in the
    request; ``fault_worker`` sends the ticket's emails and is restarted afterwards, so later
    tests that count the worker's emails start from an empty folder."""
    make_article("Shipping times and fees", SHIPPING_EN, language="en", aliases=SHIPPING_LINES)  # type: ignore[operator]
    before, own = ask(Client(), ALIKE), ask(Client(), "How long does shipping take?")
    assert before.status == Question.Status.ANSWERED and own.status == Question.Status.ANSWERED
    ticket = escalate(GAP)  # "Not what you needed? Send this to our support team"
    url = change_url(ticket)

    agent = staff("agent", SUPPORT_AGENTS)
    page = agent.get(url).content.decode()
    assert "No article answers this" not in page
    response = agent.post(url, form_data(page, "ticket_form") | {"no_article": "on", "wording": GAP}, follow=True)
    assert "Only staff who may add known gaps" in response.content.decode()
    assert not KnownGap.objects.exists()

    editor = staff("editor", SUPPORT_AGENTS)
    User.objects.get(username="editor").groups.add(Group.objects.get(name=CONTENT_EDITORS))
    page = editor.get(url).content.decode()
    assert "No article answers this" in page
    data = form_data(page, "ticket_form")
    both = editor.post(url, data | {"no_article": "on", "wording_article": str(Article.objects.get().pk)})
    assert "not both" in both.content.decode() and not KnownGap.objects.exists()
    response = editor.post(url, data | {"no_article": "on", "wording": f"<b>{GAP}</b>"}, follow=True)
    assert f"“{GAP}” is remembered as a question no article answers" in response.content.decode()
    gap = KnownGap.objects.get()
    assert gap.text == GAP and gap.created_by == User.objects.get(username="editor")
    assert "Remembered as a question no article answers" in editor.get(url).content.decode()  # the history
    again = editor.post(
        url, form_data(editor.get(url).content.decode(), "ticket_form") | {"no_article": "on"}, follow=True
    )
    assert "is already a known gap" in again.content.decode() and again.redirect_chain[-1][0] == url  # stays

    after = ask(Client(), ALIKE)
    assert after.status == Question.Status.NOT_CONFIDENT and after.escalation_recommended
    # the same retrieval confidence, moved by the lead of the article's nearest line over the new
    # gap (KNOWN_WORDING_LEAD_WEIGHT; negative here), then multiplied by the gap's factor
    lead = settings.KNOWN_WORDING_LEAD_WEIGHT * (after.features["known_wording_top"] - after.features["known_gap"])
    moved = 1 / (1 + math.exp(-(math.log(before.confidence / (1 - before.confidence)) + lead)))
    assert lead < 0 and after.confidence == pytest.approx(moved * KNOWN_GAP_FACTOR, abs=1e-6)
    still = ask(Client(), "How long does shipping take?")
    # answered as before; asked word for word as one of the article's lines, and now with a known
    # gap to tell it from, it is as confident as that line is near (support.confidence)
    assert still.status == Question.Status.ANSWERED and own.confidence <= still.confidence <= 1.0
    assert still.confidence == pytest.approx(min(still.features["known_wording_top"], 1.0))
    fault_worker.wait_for(  # type: ignore[attr-defined]
        lambda: not EmailDelivery.objects.filter(ticket=ticket).exclude(state=EmailDelivery.State.SENT).exists(),
        timeout=60, what="the ticket's emails, before the worker restarts",
    )  # fmt: skip
