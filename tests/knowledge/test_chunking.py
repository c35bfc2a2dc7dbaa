import pytest

from knowledge.chunking import (
    chunk_text,
    heading_sentences,
    list_groups,
    plain_sentences,
    split_sentences,
    strip_html,
    translated_headings,
)
from knowledge.tokens import count_tokens, truncate_tokens


def _chunks(body: str, max_tokens: int = 60, overlap: int = 15):  # type: ignore[no-untyped-def]
    return chunk_text(body, max_tokens=max_tokens, overlap_tokens=overlap, count=count_tokens, cut=truncate_tokens)


def test_blank_body_gives_no_chunks() -> None:
    assert _chunks("  \n\n  ") == []


def test_short_paragraphs_pack_into_one_chunk_keeping_boundaries() -> None:
    chunks = _chunks("First paragraph.\n\nSecond paragraph.")
    assert [c.content for c in chunks] == ["First paragraph.\n\nSecond paragraph."]


def test_chunks_are_token_bounded_and_overlap() -> None:
    paragraphs = [f"Paragraph {i} explains step {i} of the refund process in some detail." for i in range(12)]
    chunks = _chunks("\n\n".join(paragraphs), max_tokens=60, overlap=15)
    assert len(chunks) > 2
    assert all(count_tokens(c.content) <= 60 for c in chunks)
    for previous, current in zip(chunks, chunks[1:], strict=False):
        last_of_previous = previous.content.split("\n\n")[-1]
        assert current.content.startswith(last_of_previous)  # overlap is whole paragraphs
    # every paragraph lands whole in some chunk
    assert all(any(p in c.content for c in chunks) for p in paragraphs)


def test_long_korean_paragraph_splits_at_sentences_then_tokens() -> None:
    sentence = "환불은 결제 후 십사 일 이내에 마이페이지에서 신청할 수 있습니다. "
    body = sentence * 30 + "끝" * 500  # a sentence-less run must still be cut
    chunks = _chunks(body, max_tokens=80, overlap=10)
    assert all(c.token_count <= 80 for c in chunks)
    assert "".join(c.content for c in chunks).count("환불은") >= 30


def test_chunking_uses_the_pinned_tokenizer_not_the_chat_model(settings, live_kb) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from knowledge.models import Article
    from knowledge.services import article_build_chunks, article_content_hash

    body = "\n\n".join(f"문단 {n}: 환불은 결제 후 14일 이내에 마이페이지에서 신청할 수 있습니다." for n in range(40))
    article = Article(knowledge_base=live_kb, title="환불", slug="r", body=body, published_at=timezone.now())
    settings.CHUNK_TOKENS, settings.CHUNK_OVERLAP_TOKENS = 120, 20
    settings.OPENAI_CHAT_MODEL = "gpt-4o-mini"
    before, hashed = [c.content for c in article_build_chunks(article)], article_content_hash(article)
    settings.OPENAI_CHAT_MODEL = "gpt-3.5-turbo"  # another chat encoding must not move chunk boundaries
    assert [c.content for c in article_build_chunks(article)] == before
    settings.CHUNK_TOKENIZER = "o200k_base_offline_missing"
    assert article_content_hash(article) != hashed  # the tokenizer is part of what was indexed


def test_table_rows_become_sentences_that_name_their_columns() -> None:
    from knowledge.chunking import plain_sentences

    markdown = (
        "Our plans:\n\n| Plan | Price | Points |\n|------|:-----:|--------|\n"
        "| Basic | Free | 1% |\n| **Plus** | ₩4,900 | 3% |\n\nCancel any time."
    )
    assert plain_sentences(markdown) == [
        "Our plans:",
        "Plan: Basic; Price: Free; Points: 1%",
        "Plan: Plus; Price: ₩4,900; Points: 3%",
        "Cancel any time.",
    ]


def test_sentences_do_not_break_at_abbreviations_or_decimals_in_either_language() -> None:
    text = (
        "Group bookings run from 10 a.m. to 4 p.m. on weekdays. The price is ₩1,500 per bike, e.g. for a school. "
        "Batteries last 2.5 hours."
    )
    assert split_sentences(text) == [
        "Group bookings run from 10 a.m. to 4 p.m. on weekdays.",
        "The price is ₩1,500 per bike, e.g. for a school.",
        "Batteries last 2.5 hours.",
    ]
    assert split_sentences("평일 오전 9시부터 운영합니다. 주말에는 쉽니다! 환불은 3.5일 걸리나요?") == [
        "평일 오전 9시부터 운영합니다.",
        "주말에는 쉽니다!",
        "환불은 3.5일 걸리나요?",
    ]


def test_a_web_address_stays_whole_in_its_sentence() -> None:
    text = "See https://example.com/help?a=1&b=2 for details. Then visit https://nabi.example/faq. Done!"
    assert split_sentences(text) == [
        "See https://example.com/help?a=1&b=2 for details.",  # pysbd had cut it after the "?"
        "Then visit https://nabi.example/faq.",  # the full stop after an address still ends the sentence
        "Done!",
    ]
    assert split_sentences("자세한 내용은 https://ir.example.com/주식?year=2025 에서 보세요. 감사합니다.") == [
        "자세한 내용은 https://ir.example.com/주식?year=2025 에서 보세요.",
        "감사합니다.",
    ]


def test_heading_sentences_are_the_plain_sentences_of_heading_lines() -> None:
    markdown = "Intro text.\n\n## Free **trial**\n\nNew members try Plus free.\n\n### Cost?\n\n- # not a heading"
    headings = heading_sentences(markdown)
    assert headings == {"Free trial", "Cost?"}
    assert headings <= set(plain_sentences(markdown))  # the same strings the answerer picks from


def test_translated_headings_pair_the_other_language_lines_with_the_title_and_headings_in_order() -> None:
    headings = "## 연락 방법\n## 문의 전 **준비**해 주세요"
    aliases = "Customer service hours\n고객센터 시간\nHow to contact us\nWhat to have ready"
    assert translated_headings(headings, aliases, "ko") == (
        ("", "Customer service hours"),  # the title's line; the Korean synonym is no translation
        ("연락 방법", "How to contact us"),
        ("문의 전 준비해 주세요", "What to have ready"),  # keyed by the plain sentence the answerer sees
    )
    short = translated_headings(headings, "Customer service hours\nHow to contact us", "ko")
    assert short == (("", "Customer service hours"), ("연락 방법", "How to contact us"))  # as far as both go
    longer = translated_headings(headings, aliases + "\nOpening hours", "ko")  # a line added at the end
    assert longer == translated_headings(headings, aliases, "ko")
    assert translated_headings("", "Refund policy", "ko") == (("", "Refund policy"),)  # no headings: the title
    assert translated_headings(headings, "", "ko") == ()


def test_list_groups_are_the_sentences_of_each_bulleted_list_and_table() -> None:
    markdown = (
        "Intro. Two sentences.\n\n## Delivery times\n\n- **Standard**: 1–2 days.\n* Dawn: by 7 a.m. Not on Saturdays.\n"
        "- Islands: 2–4 days.\n\nA paragraph ends the list.\n\n- A second list.\n\n- Its item after a blank line.\n\n"
        "| Plan | Price |\n|---|---|\n| Monthly | ₩4,900 |\n| Yearly | ₩49,000 |\n\n1. A numbered step is no bullet."
    )
    groups = list_groups(markdown)
    assert groups == (
        ("Standard: 1–2 days.", "Dawn: by 7 a.m.", "Not on Saturdays.", "Islands: 2–4 days."),
        ("A second list.", "Its item after a blank line."),
        ("Plan: Monthly; Price: ₩4,900", "Plan: Yearly; Price: ₩49,000"),
    )
    assert {s for g in groups for s in g} <= set(plain_sentences(markdown))  # the answerer's strings
    assert list_groups("No list. Only text.") == ()


@pytest.mark.parametrize(
    ("markdown", "indexed"),
    [
        ("<script>alert(1)</script>안녕 <b>굵게</b> 끝", "안녕 굵게 끝"),
        ('<div onclick="a>b">텍스트</div><img src=x onerror=alert(1)>', "텍스트"),
        ("<SCRIPT type='x'>a</SCRIPT>b<!-- 메모 -->", "b"),
        ("앞 <script>var x = 1;", "앞 "),  # unclosed: the rest is script, as a browser reads it
        ("My page > Orders & more", "My page > Orders & more"),
        ("x<y 이고 a < b", "x<y 이고 a < b"),
        ("<The Old Man and the Sea>, <노인과 바다>", "<The Old Man and the Sea>, <노인과 바다>"),
        ("<https://example.com> 1 <b 2", "<https://example.com> 1 <b 2"),
    ],
)
def test_strip_html_drops_html_elements_and_keeps_angle_brackets_of_text(markdown: str, indexed: str) -> None:
    assert strip_html(markdown) == indexed
