import dataclasses
from pathlib import Path

import pytest

from knowledge.importers import articles_import, read_records, record_from_mapping
from knowledge.models import Article
from knowledge.selectors import retrieve
from knowledge.services import article_index

pytestmark = pytest.mark.django_db

SHIPPING_EN = """---
title: Shipping times and fees
slug: shipping
language: en
aliases:
  - 배송 기간과 배송비
  - 택배 배송 조회
---
Orders paid before 2 p.m. on a business day leave the warehouse the same day.
Standard delivery costs 3,000 won and is free for orders of 30,000 won or more.
"""


def test_aliases_come_from_front_matter_as_a_list_or_a_string() -> None:
    listed = record_from_mapping({"title": "T", "body": "B", "aliases": ["배송 기간", " ", "배송비 "]}, "a.md")
    assert listed.aliases == "배송 기간\n배송비"
    assert record_from_mapping({"title": "T", "body": "B", "aliases": "배송 기간\n배송비"}, "b.md").aliases == (
        "배송 기간\n배송비"
    )
    assert record_from_mapping({"title": "T", "body": "B"}, "c.md").aliases == ""
    with pytest.raises(ValueError, match="aliases must be a string or a list of strings"):
        record_from_mapping({"title": "T", "body": "B", "aliases": {"ko": "배송"}}, "d.md")
    with pytest.raises(ValueError, match=r"found 2000 line\(s\)"):
        record_from_mapping({"title": "T", "body": "B", "aliases": [f"배송 {n}" for n in range(2000)]}, "e.md")


def test_korean_alias_lets_a_korean_question_find_the_english_article_lexically(tmp_path: Path, live_kb) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "shipping.md"
    path.write_text(SHIPPING_EN, encoding="utf-8")
    records, errors = read_records(path)
    assert errors == []
    report = articles_import(records=records, knowledge_base=live_kb, schedule=False)
    article = Article.objects.get(pk=report.article_ids[0])
    assert article.aliases == "배송 기간과 배송비\n택배 배송 조회"
    assert article_index(article_id=article.pk) is True

    found = retrieve(question="배송비 얼마예요?", kb_id=live_kb.pk, mode="lexical")
    assert [c.article_id for c in found.chunks] == [article.pk]  # only the alias holds a Korean word
    assert "배송비" not in found.chunks[0].content  # searched, never shown

    # Editing the aliases changes what is indexed, so the article is re-indexed.
    before = article.content_hash
    records = [dataclasses.replace(r, aliases="배송 기간") for r in records]
    assert articles_import(records=records, knowledge_base=live_kb, schedule=False).updated == 1
    article.refresh_from_db()
    assert article_index(article_id=article.pk) is True
    article.refresh_from_db()
    assert article.indexed_hash != before
