"""Known answers: an *also asked as* line taught with the sentence that answered it
(``Article.alias_answers``) brings that sentence into the excerpt of a customer asking alike."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation
from pytest_django import Settings

from knowledge.importers import record_from_mapping
from knowledge.models import Article
from knowledge.services import alias_answers_clean, article_sentences, article_sentences_with
from support.answering.extractive import with_known_answer
from support.models import Question
from support.tickets import TicketInvalid, ticket_create
from support.workflow import ticket_wording_to_article

# samples/articles/size-exchange.md, as the sample help centre has it
EXCHANGE_EN = (
    "If an item does not fit, you can exchange it for another size or colour of the same product within "
    "**14 days of delivery**. Go to **My page > Orders**, choose the item and tap **Request exchange**, then pick "
    "the new size or colour. You can only exchange for an option that is in stock; if it is sold out, request a "
    "return and refund instead.\n\n## Cost\n\nYour **first exchange on each order is free**. For further exchanges "
    "on the same order, or if you simply changed your mind about the style, the round-trip shipping fee of ₩6,000 "
    "is deducted from your payment or charged to your card. Exchanges for a defective or wrongly sent item are "
    "always free.\n\n## How long it takes\n\nA courier collects the item within 2 business days of your request. "
    "We send the new item as soon as the returned one reaches our warehouse and passes inspection, usually within "
    "1 business day, so an exchange takes about 4–6 business days in total.\n\nItems must be unworn and unwashed, "
    "with all tags attached. Underwear, swimwear and earrings cannot be exchanged for hygiene reasons unless they "
    "are defective."
)
TAGS = "Items must be unworn and unwashed, with all tags attached."
LINES = "다른 사이즈나 색상으로 교환하기\n비용\n걸리는 시간\n택 뗐는데 교환 가능?"


def _ask(text: str) -> Question:
    response = Client().post(reverse("support:ask"), {"question": text})
    assert response.status_code == 302
    return Question.objects.latest("pk")


@pytest.mark.django_db
def test_a_customer_asking_as_a_taught_line_is_quoted_its_answer(make_article: Any, settings: Settings) -> None:
    """A Korean customer asks about an English article: "택" meets no word of it and E5-small puts
    the tags sentence outside the three quoted. The line support taught, with its answer, adds it;
    the excerpt's own sentences stay. A line less near than ``KNOWN_ANSWER_SIMILARITY`` adds nothing."""
    make_article(
        "Exchanging an item for another size or colour", EXCHANGE_EN, language="en", slug="size-exchange",
        aliases=LINES, alias_answers={"택 뗐는데 교환 가능?": TAGS},
    )  # fmt: skip
    settings.KNOWN_ANSWER_SIMILARITY = 0.0
    before = _ask("택 떼버렸는데 교환 되나요")
    settings.KNOWN_ANSWER_SIMILARITY = 0.9
    after = _ask("택 떼버렸는데 교환 되나요")
    assert TAGS not in before.answer and TAGS in after.answer
    assert all(line in after.answer for line in before.answer.splitlines())
    settings.KNOWN_ANSWER_SIMILARITY = 0.999  # the line is near, not this near (0.96)
    assert _ask("택 떼버렸는데 교환 되나요").answer == before.answer


def test_the_answer_joins_the_excerpt_in_the_articles_order_once() -> None:
    sentences = ["A one.", "B two.", "C three.", "D four."]
    assert with_known_answer(sentences, ["B two.", "D four."], "A   one.") == ["A one.", "B two.", "D four."]
    assert with_known_answer(sentences, ["B two."], "B two.") == ["B two."]
    assert with_known_answer(sentences, ["B two."], "Not in this chunk.") == ["B two."]
    assert with_known_answer(sentences, ["B two."], "") == ["B two."]


def test_answers_are_kept_only_for_lines_the_article_still_has() -> None:
    lines = "택 뗐는데 교환 가능?\nshipping   fee?"
    answers = {"택 뗐는데 교환 가능?": f"  {TAGS}\n", "shipping fee?": "₩6,000.", "a line taken out": "Gone."}
    assert alias_answers_clean(lines, answers) == {"택 뗐는데 교환 가능?": TAGS, "shipping   fee?": "₩6,000."}
    assert alias_answers_clean(lines, None) == {}
    with pytest.raises(ValueError, match="must map each"):
        alias_answers_clean(lines, ["택 뗐는데 교환 가능?"])
    record = record_from_mapping(
        {"title": "Exchanges", "body": EXCHANGE_EN, "aliases": ["택 뗐는데 교환 가능?"], "alias_answers": answers},
        "x.md",
    )
    assert record.alias_answers == {"택 뗐는데 교환 가능?": TAGS}
    with pytest.raises(ValueError, match="must map each"):
        record_from_mapping({"title": "Exchanges", "body": EXCHANGE_EN, "alias_answers": "tags"}, "x.md")


@pytest.mark.django_db
def test_support_teaches_a_line_with_words_of_its_answer_from_the_ticket(make_article: Any) -> None:
    """The ticket page's "Words of the sentence that answers it": the whole sentence holding them
    is kept as the line's answer; words the article does not hold, or holds in several
    sentences, are refused with a message."""
    article = make_article("Exchanges", EXCHANGE_EN, language="en", slug="exchanges")
    assert article_sentences_with(article, "ALL TAGS   attached") == [TAGS]
    assert article_sentences_with(article, "a gift card") == [] and article_sentences_with(article, " ") == []
    assert len(article_sentences_with(article, "exchange")) > 1
    editor = User.objects.create_superuser("editor", "editor@example.com", "pw")
    ticket = ticket_create(
        question=Question.objects.create(text="택 떼버렸는데 교환 되나요", status=Question.Status.NOT_CONFIDENT),
        email="kim@example.com",
    )
    asked = "택 떼버렸는데 교환 되나요"
    with translation.override("en"):
        with pytest.raises(TicketInvalid, match="is not in a sentence of"):
            ticket_wording_to_article(ticket=ticket, article=article, text=asked, by=editor, answer="gift card")
        with pytest.raises(TicketInvalid, match="is in [0-9]+ sentences of"):
            ticket_wording_to_article(ticket=ticket, article=article, text=asked, by=editor, answer="exchange")
    assert Article.objects.get(pk=article.pk).aliases == ""  # refused: nothing taught
    ticket_wording_to_article(
        ticket=ticket, article=article, text="택 떼버렸는데 교환 되나요", by=editor, answer="tags attached"
    )
    article.refresh_from_db()
    assert article.aliases == "택 떼버렸는데 교환 되나요" and article.alias_answers == {
        "택 떼버렸는데 교환 되나요": TAGS
    }


@pytest.mark.django_db
def test_the_ticket_page_suggests_the_shown_articles_sentences_for_the_answer(make_article: Any) -> None:
    """The answer box lists the sentences of the articles the customer was shown (a ``<datalist>``:
    typing "tags" offers the whole sentence), so staff pick the sentence instead of copying words."""
    article = make_article("Exchanges", EXCHANGE_EN, language="en", slug="exchanges")
    question = Question.objects.create(
        text="택 떼버렸는데 교환 되나요", status=Question.Status.NOT_CONFIDENT,
        sources=[{"article_id": article.pk, "chunk_id": 0, "title": article.title}],
    )  # fmt: skip
    ticket = ticket_create(question=question, email="kim@example.com")
    client = Client()
    client.force_login(User.objects.create_superuser("editor", "editor@example.com", "pw"))
    page = client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    assert 'list="id_wording_answer-sentences"' in page
    datalist = page.split('<datalist id="id_wording_answer-sentences">', 1)[1].split("</datalist>", 1)[0]
    assert f'<option value="{TAGS}"></option>' in datalist
    assert datalist.count("<option") == len(article_sentences([article.pk])) > 5
    unshown = ticket_create(
        question=Question.objects.create(text="gift cards?", status=Question.Status.NOT_CONFIDENT),
        email="lee@example.com",
    )
    page = client.get(reverse("admin:support_ticket_change", args=[unshown.pk])).content.decode()
    assert 'name="wording_answer"' in page and "<datalist" not in page
