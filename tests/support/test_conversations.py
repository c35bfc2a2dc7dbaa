"""Conversations: follow-ups over the API and the pages, their context, ownership and escalation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from pytest_django import Settings

from support.conversations import Turn, history_within_budget, turn_text
from support.models import Conversation, Question, Ticket
from support.outbox import email_delivery_send
from support.services import question_answer, token_hash
from tests.fake_openai import CHAT, FakeOpenAI, chat_reply, error, fake_openai, trickle  # noqa: F401

pytestmark = pytest.mark.django_db

FIRST_EN = "How long is the password reset link valid?"
FOLLOW_UP_EN = "And where do I find it?"  # "it" is the password reset: alone it matches nothing
FIRST_KO = "환불은 결제 후 며칠 이내에 가능한가요?"
# Apply for what? Alone it is escalated; after the refund question it is where to apply for
# the refund. (Vaguer follow-ups are not ambiguous in these four articles: "처리 기간은요?"
# has one article saying 처리 and "며칠 걸려요?" one saying 걸리며, and the gate answers
# those alone.)
FOLLOW_UP_KO = "신청은 어디서 해요?"


def ask(client: Client, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/questions/", body, content_type="application/json")


@pytest.fixture
def started(client: Client, sample_articles: dict[str, Any]) -> dict[str, Any]:
    response = ask(client, {"question": FIRST_EN})
    assert response.status_code == 201, response.content
    return response.json()


def test_first_question_starts_a_conversation_whose_secret_is_its_token(started: dict[str, Any]) -> None:
    conversation = Conversation.objects.get(pk=started["conversation_id"])
    assert conversation.token_hash == token_hash(started["token"])
    assert Question.objects.get(pk=started["id"]).turn == 1


def test_conversation_id_round_trips_and_the_same_token_owns_the_follow_up(
    client: Client, started: dict[str, Any]
) -> None:
    response = ask(
        client, {"question": FOLLOW_UP_EN, "conversation_id": started["conversation_id"], "token": started["token"]}
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["conversation_id"] == started["conversation_id"] and data["token"] == started["token"]
    assert set(data) == set(started)  # every existing field is still there
    follow_up = Question.objects.get(pk=data["id"])
    assert (follow_up.turn, follow_up.text) == (2, FOLLOW_UP_EN)  # stored as asked
    assert follow_up.retrieval_query != FOLLOW_UP_EN and "password" in follow_up.retrieval_query
    ticket = client.post(
        "/api/v1/tickets/",
        {"question_id": data["id"], "token": started["token"], "email": "kim@example.com"},
        content_type="application/json",
    )
    assert ticket.status_code == 201, ticket.content


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_a_conversation_that_is_not_yours_is_404_like_the_ticket_endpoint(
    client: Client, started: dict[str, Any], token: str | None
) -> None:
    body: dict[str, Any] = {"question": FOLLOW_UP_EN, "conversation_id": started["conversation_id"]}
    if token is not None:
        body["token"] = token
    response = ask(client, body)
    unknown = ask(
        client,
        {"question": FOLLOW_UP_EN, "conversation_id": started["conversation_id"] + 1000, "token": started["token"]},
    )
    ticket_404 = client.post(
        "/api/v1/tickets/",
        {"question_id": started["id"], "token": "wrong", "email": "a@example.com"},
        content_type="application/json",
    )
    assert response.status_code == unknown.status_code == ticket_404.status_code == 404
    assert response.json() == unknown.json() == ticket_404.json()
    blank = ask(client, {"question": " ", "conversation_id": started["conversation_id"] + 1000, "token": "x"})
    assert blank.status_code == 400 and blank.json() == {"question": ["질문을 입력해 주세요."]}  # checked first
    assert Question.objects.count() == 1  # nothing was asked


def test_a_follow_up_is_answered_from_the_previous_turns_article_thanks_to_context(
    client: Client, sample_articles: dict[str, Any]
) -> None:
    alone = ask(client, {"question": FOLLOW_UP_EN}).json()
    assert alone["escalation_recommended"] is True  # without context it can't be answered

    first = ask(client, {"question": FIRST_EN}).json()
    follow_up = ask(
        client, {"question": FOLLOW_UP_EN, "conversation_id": first["conversation_id"], "token": first["token"]}
    ).json()
    assert follow_up["status"] == "answered", follow_up
    assert follow_up["sources"][0]["url"] == "/articles/password/"
    assert "Settings" in follow_up["answer"]


def test_a_korean_follow_up_in_context(sample_articles: dict[str, Any]) -> None:
    alone = question_answer(text=FOLLOW_UP_KO).question
    assert alone.escalation_recommended
    first = question_answer(text=FIRST_KO)
    follow_up = question_answer(text=FOLLOW_UP_KO, conversation=first.question.conversation).question
    assert follow_up.status == Question.Status.ANSWERED
    assert follow_up.sources[0]["article_id"] == sample_articles["refund"].pk and "마이페이지" in follow_up.answer
    assert follow_up.token_hash == first.question.token_hash and follow_up.turn == 2


@pytest.mark.parametrize("topic_change", [True, False])
def test_a_follow_up_on_a_new_topic_is_retrieved_on_its_own(
    settings: Settings, sample_articles: dict[str, Any], topic_change: bool
) -> None:
    """After a password question, a self-contained refund question: the gate answers it alone,
    so it is not mixed with the password article's carried terms (unless the check is off)."""
    settings.CONVERSATION_TOPIC_CHANGE = topic_change
    alone = question_answer(text=FIRST_KO).question
    assert alone.status == Question.Status.ANSWERED
    first = question_answer(text=FIRST_EN)
    follow_up = question_answer(text=FIRST_KO, conversation=first.question.conversation).question
    if topic_change:
        assert follow_up.retrieval_query == FIRST_KO
        assert follow_up.sources[0]["article_id"] == sample_articles["refund"].pk
        assert follow_up.answer == alone.answer and follow_up.confidence == pytest.approx(alone.confidence)
    else:
        assert follow_up.retrieval_query != FIRST_KO and "password" in follow_up.retrieval_query


def test_leaving_the_topic_wants_the_floor_as_well_as_the_threshold(
    settings: Settings, sample_articles: dict[str, Any]
) -> None:
    """The follow-up alone must reach ``CONVERSATION_TOPIC_CHANGE_MIN_CONFIDENCE`` too: just
    under it the carried context stands, at it the follow-up is retrieved on its own."""
    alone = question_answer(text=FIRST_KO).question
    settings.CONVERSATION_TOPIC_CHANGE_MIN_CONFIDENCE = alone.confidence + 0.001
    first = question_answer(text=FIRST_EN)
    kept = question_answer(text=FIRST_KO, conversation=first.question.conversation).question
    assert kept.retrieval_query != FIRST_KO and "password" in kept.retrieval_query
    settings.CONVERSATION_TOPIC_CHANGE_MIN_CONFIDENCE = alone.confidence - 0.001
    first = question_answer(text=FIRST_EN)
    moved = question_answer(text=FIRST_KO, conversation=first.question.conversation).question
    assert moved.retrieval_query == FIRST_KO


def test_the_topic_change_check_failing_to_embed_keeps_the_contextual_answer(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, sample_articles: dict[str, Any]
) -> None:
    """The check embeds the follow-up alone; if that call fails (an embedding API down), the
    follow-up is still answered from the contextual retrieval, never lost."""
    import knowledge.selectors
    from knowledge.embeddings import EmbeddingError, get_provider

    real = get_provider()

    class FailsOnTheFollowUpAlone:
        name, dimensions = real.name, real.dimensions

        def embed_passages(self, texts: list[str]) -> list[list[float]]:
            return real.embed_passages(texts)

        def embed_query(self, text: str) -> list[float]:
            if text == FIRST_KO:
                raise EmbeddingError("embedding API unreachable")
            return real.embed_query(text)

    first = question_answer(text=FIRST_EN)
    monkeypatch.setattr(knowledge.selectors, "get_provider", lambda: FailsOnTheFollowUpAlone())
    follow_up = question_answer(text=FIRST_KO, conversation=first.question.conversation).question
    assert follow_up.pk and follow_up.status != Question.Status.MODEL_ERROR
    assert follow_up.retrieval_query != FIRST_KO and follow_up.sources  # the contextual retrieval stood
    assert "topic-change check skipped" in caplog.text


# --- the history budget and the chat model's rewrite -----------------------------------------


def turns(*questions: str) -> list[Turn]:
    return [Turn(question=q, query=q, answer=f"answer to {q}", source_title="") for q in questions]


def test_history_keeps_the_newest_turns_within_the_token_budget() -> None:
    history = turns("first question " * 20, "second question", "third question")
    from knowledge.tokens import count_tokens

    budget = sum(count_tokens(turn_text(t)) for t in history[1:])
    assert history_within_budget(history, budget, "gpt-4o-mini") == history[1:]  # the oldest is dropped first
    assert history_within_budget(history, budget - 1, "gpt-4o-mini") == history[2:]
    assert history_within_budget(history, 10_000, "gpt-4o-mini") == history
    assert history_within_budget(turns("x " * 500), 50, "gpt-4o-mini") == []  # one turn over the budget


@pytest.fixture
def llm(fake_openai: FakeOpenAI, settings: Settings) -> FakeOpenAI:  # noqa: F811
    fake_openai.apply_settings(settings, timeout=1.0, max_retries=0)
    settings.CHAT_PROVIDER = "openai"
    settings.EMBEDDING_PROVIDER = "local"
    return fake_openai


def test_with_a_chat_model_the_follow_up_is_rewritten_within_the_budget(
    llm: FakeOpenAI, sample_articles: dict[str, Any], settings: Settings
) -> None:
    conversation = question_answer(text="Old unrelated question about shipping times?").question.conversation
    question_answer(text=FIRST_EN, conversation=conversation)
    # Room for the newest turn only: the oldest one must not reach the model.
    from knowledge.tokens import count_tokens

    newest = Question.objects.get(conversation=conversation, turn=2)
    settings.CONVERSATION_HISTORY_TOKENS = (
        count_tokens(f"Customer: {newest.text}\nAssistant: {newest.answer or ''}") + 12
    )
    llm.reset()
    standalone = "Where do I find the password reset option?"
    llm.script(chat_reply({"question": standalone}))
    follow_up = question_answer(text=FOLLOW_UP_EN, conversation=conversation).question
    rewrite = llm.requests_to(CHAT)[0].body
    sent = rewrite["messages"][1]["content"]
    assert FIRST_EN in sent and "shipping" not in sent and FOLLOW_UP_EN in sent
    assert rewrite["response_format"] == {"type": "json_object"}
    follow_up.refresh_from_db()
    assert (follow_up.text, follow_up.retrieval_query) == (FOLLOW_UP_EN, standalone)
    assert follow_up.sources[0]["article_id"] == sample_articles["password"].pk


def test_a_failed_rewrite_falls_back_offline_and_keeps_the_question(
    llm: FakeOpenAI, sample_articles: dict[str, Any]
) -> None:
    first = question_answer(text=FIRST_EN).question
    llm.reset()
    llm.script(error(500, "down"))
    follow_up = question_answer(text=FOLLOW_UP_EN, conversation=first.conversation).question
    follow_up.refresh_from_db()
    assert follow_up.pk and follow_up.text == FOLLOW_UP_EN
    assert "password" in follow_up.retrieval_query  # the offline method carried the previous turn
    assert follow_up.sources[0]["article_id"] == sample_articles["password"].pk


def test_a_slow_rewrite_gives_up_at_its_share_of_the_deadline(
    llm: FakeOpenAI, sample_articles: dict[str, Any], settings: Settings
) -> None:
    """A follow-up makes two chat calls; the optional rewrite had its own whole deadline, so a
    slow server made the customer wait twice as long (verification pass: 33 s at 15 s)."""
    import time

    settings.OPENAI_TIMEOUT_SECONDS, settings.OPENAI_DEADLINE_SECONDS = 2.0, 8.0
    first = question_answer(text=FIRST_EN).question
    llm.reset()
    llm.script(trickle(0.3, path=CHAT))  # the rewrite's reply, 8 bytes every 0.3 s: ~10 s
    started = time.monotonic()
    follow_up = question_answer(text=FOLLOW_UP_EN, conversation=first.conversation).question
    elapsed = time.monotonic() - started
    follow_up.refresh_from_db()
    assert "password" in follow_up.retrieval_query  # the offline context stood in
    assert follow_up.status == Question.Status.ANSWERED  # the answer's own call was quick
    assert elapsed < 6.0, elapsed  # 2 s for the rewrite (a quarter of 8), then the answer


# --- pages and escalation ------------------------------------------------------------------------


def test_the_page_shows_the_thread_and_a_follow_up_box(client: Client, sample_articles: dict[str, Any]) -> None:
    first = client.post("/", {"question": FIRST_EN})
    assert first.status_code == 302
    page = client.get(first["Location"]).content.decode()
    assert 'action="/questions/' in page and "/follow-up/" in page
    # The answer page opens at the answer: nothing below it takes focus (and scrolls the page there).
    assert "autofocus" not in page and "autofocus" in client.get("/").content.decode()
    follow_up = client.post(first["Location"] + "follow-up/", {"question": FOLLOW_UP_EN})
    assert follow_up.status_code == 302 and follow_up["Location"] != first["Location"]
    thread = client.get(follow_up["Location"]).content.decode()
    assert 'id="conversation"' in thread and FIRST_EN in thread and FOLLOW_UP_EN in thread
    assert "30 minutes" in thread  # the earlier answer is in the thread
    earlier = thread.split('<p class="quote reply">', 1)[1].split("</p>", 1)[0]
    assert '<span lang="en">' in earlier and "30 minutes" in earlier  # an excerpt in its article's language
    stranger = Client()
    assert stranger.post(first["Location"] + "follow-up/", {"question": "hi"}).status_code == 404
    blank = client.post(first["Location"] + "follow-up/", {"question": ""})
    assert blank.status_code == 200 and Question.objects.count() == 2
    # sent back with its error, the follow-up box takes the focus (and the view): it is where the
    # customer just typed; on the plain answer page it does not (asserted above)
    html = blank.content.decode()
    assert html.count("autofocus") == 1 and re.search(r'<textarea name="question"[^>]*autofocus', html)


def test_escalating_a_follow_up_sends_the_whole_conversation(
    client: Client, sample_articles: dict[str, Any], admin_client: Client
) -> None:
    # The notification is sent in-process through the outbox (as the worker's task does):
    # starting the session's worker here would race test_outbox's sweeps later on.
    first = ask(client, {"question": FIRST_EN}).json()
    body = {"conversation_id": first["conversation_id"], "token": first["token"]}
    second = ask(client, {"question": FOLLOW_UP_EN, **body}).json()
    third = ask(client, {"question": "Can I get it by text message instead?", **body}).json()
    response = client.post(
        "/api/v1/tickets/",
        {"question_id": third["id"], "token": first["token"], "email": "kim@example.com"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(reference=response.json()["reference"])
    for delivery in ticket.deliveries.all():
        assert email_delivery_send(delivery_id=delivery.pk)
    notification = next(m for m in mail.outbox if m.to == ["support-team@example.com"])
    acknowledgement = next(m for m in mail.outbox if m.to == ["kim@example.com"])
    for text in (notification.body, notification.alternatives[0].content):
        assert FIRST_EN in text and FOLLOW_UP_EN in text and "text message" in text
        assert text.index(FIRST_EN) < text.index(FOLLOW_UP_EN) < text.index("text message")
        assert "30 minutes" in text  # what the portal answered on the first turn
    assert FIRST_EN not in acknowledgement.body  # the customer's email still echoes nothing
    page = admin_client.get(f"/admin/support/ticket/{ticket.pk}/change/").content.decode()
    assert FIRST_EN in page and FOLLOW_UP_EN in page and second["id"] != third["id"]


# --- the offline methods and the conversation file --------------------------------------------


def test_offline_methods_carry_the_previous_turn_forward_without_repeating_terms() -> None:
    from support.conversations import standalone_query_offline

    history = [
        Turn(
            question="How much is Nabi Plus?",
            query="How much is Nabi Plus?",
            answer="",
            source_title="Nabi Plus membership",
        )
    ]
    text = "Can I cancel it anytime?"
    assert standalone_query_offline(text, [], "previous_terms_title") == text
    assert standalone_query_offline(text, history, "none") == text
    assert standalone_query_offline(text, history, "previous_question") == f"How much is Nabi Plus? {text}"
    assert (
        standalone_query_offline(text, history, "previous_terms") == f"{text} nabi plus"
    )  # "much" is a query stop word
    assert standalone_query_offline(text, history, "previous_terms_title") == f"{text} nabi plus membership"
    # carried terms are written as words, not stems: the query is embedded as well as searched
    deleting = [Turn(question="how do I delete my accounts", query="how do I delete my accounts", answer="",
                     source_title="How to delete your account")]  # fmt: skip
    follow_up = "Can I get it back later?"
    assert standalone_query_offline(follow_up, deleting, "previous_terms_title") == f"{follow_up} delete accounts"
    with pytest.raises(ValueError, match="unknown offline method"):
        standalone_query_offline(text, history, "magic")


def test_a_malformed_conversation_file_names_the_line(tmp_path: Any) -> None:
    from support.evaluation.conversations import read_conversations

    path = tmp_path / "c.jsonl"
    good = {"id": "c1", "language": "en", "turns": [{"question": "q1", "article": "a", "facts": ["x"]}] * 2}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "turns": good["turns"][:1]}) + "\n")
    with pytest.raises(ValueError, match="line 2"):
        read_conversations(path, {"a"})
    path.write_text(json.dumps(good) + "\n")
    assert read_conversations(path, {"a"})[0].turns[1].facts == ("x",)
    with pytest.raises(ValueError, match="line 1"):
        read_conversations(path, {"b"})  # unknown article slug
    off_topic = {**good, "turns": [good["turns"][0], {"question": "concert tickets?", "article": None, "facts": []}]}
    path.write_text(json.dumps(off_topic) + "\n")
    assert read_conversations(path, {"a"})[0].turns[1].article is None  # no article answers it: to be escalated
    path.write_text(
        json.dumps({**off_topic, "turns": [good["turns"][0], {"question": "q", "article": None, "facts": ["x"]}]})
    )
    with pytest.raises(ValueError, match="line 1"):
        read_conversations(path, {"a"})  # facts for a turn no article answers


def test_follow_ups_no_article_answers_are_counted_apart() -> None:
    from support.evaluation.conversations import Tally, format_conversations

    tally = Tally(followups=4, answered=3, answered_cited_right=3, unanswerable=4, unanswerable_escalated=1)
    shares = tally.shares()
    assert shares["answered_cited_right"] == 0.75 and shares["unanswerable_escalated"] == 0.25  # apart: 4 and 4
    assert Tally(followups=2).shares()["unanswerable_escalated"] is None  # none asked, not "0% escalated"
    report = {
        "conversations": 8, "threshold": 0.7, "chat_provider": "extractive",
        "methods": {"none": {"all": shares, "ko": Tally(followups=2).shares()}},
    }  # fmt: skip
    table = format_conversations(report)
    assert "25.0% of 4" in table and table.splitlines()[-1].rstrip().endswith("-")


def test_a_turn_the_customer_left_mid_stream_is_not_called_unsure(
    client: Client, sample_articles: dict[str, Any]
) -> None:
    """The verification pass closed the browser mid-stream: the thread then said "We were not
    sure about this one" of a question the portal had been answering."""
    first = client.post("/", {"question": FIRST_EN})
    question = Question.objects.get()
    Question.objects.filter(pk=question.pk).update(
        status=Question.Status.MODEL_ERROR,
        escalation_recommended=True,
        error="disconnected: the answer was not finished",
    )
    follow_up = client.post(first["Location"] + "follow-up/", {"question": FOLLOW_UP_EN})
    thread = (
        client.get(follow_up["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode().split('id="current-question"')[0]
    )
    assert "You left before this answer was finished." in thread and "We were not sure" not in thread
