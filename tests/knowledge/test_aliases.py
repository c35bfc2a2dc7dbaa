"""A customer's wording added to an article's *also asked as* lines (the learning loop's write)."""

import pytest
from django.utils import translation

from knowledge.models import Article
from knowledge.services import (
    ALIAS_MAX_CHARS,
    ALIASES_MAX_LINES,
    AliasRejected,
    alias_line,
    aliases_with_line,
    article_alias_add,
)


def test_a_question_becomes_one_line_without_markup_cut_at_a_word() -> None:
    assert alias_line("  비번\n까먹었어요 <script>alert(1)</script> ") == "비번 까먹었어요"
    assert alias_line("how much is <b>shipping</b>?") == "how much is shipping?"
    assert alias_line("<br><br>") == ""
    long = alias_line("word " * 100)
    assert len(long) <= ALIAS_MAX_CHARS and long.endswith("word") and not long.endswith(" ")


@translation.override("en")  # the messages are for staff, in the active language
def test_a_line_is_appended_once_and_refused_when_blank_or_the_article_is_full() -> None:
    aliases, line = aliases_with_line("Returns and refund policy\n\n", "반품  기간이\n어떻게 되나요?", title="환불")
    assert (aliases, line) == ("Returns and refund policy\n반품 기간이 어떻게 되나요?", "반품 기간이 어떻게 되나요?")
    with pytest.raises(AliasRejected, match="already has this line"):
        aliases_with_line(aliases, "반품 기간이 어떻게  되나요?", title="환불")
    with pytest.raises(AliasRejected, match="already has this line"):
        aliases_with_line("How long does shipping take?", "how long does SHIPPING take?")
    with pytest.raises(AliasRejected, match="empty"):
        aliases_with_line(aliases, " <p></p> ")
    full = "\n".join(f"line {n}" for n in range(ALIASES_MAX_LINES))
    with pytest.raises(AliasRejected, match=f"already has {ALIASES_MAX_LINES}"):
        aliases_with_line(full, "one more", title="Shipping")


@pytest.mark.django_db
@translation.override("en")
def test_adding_a_line_re_indexes_the_article_but_never_a_support_answer(make_article) -> None:  # type: ignore[no-untyped-def]
    article = make_article("Resetting your password", "Open Settings and choose Forgot password.", language="en")
    assert article.index_state == Article.IndexState.INDEXED
    changed = article_alias_add(article_id=article.pk, text="비번 까먹었어요")
    article.refresh_from_db()
    assert article.aliases == "비번 까먹었어요" == changed.aliases
    assert article.index_state == Article.IndexState.PENDING  # its chunks are embedded again with the line
    answer = make_article("선물 포장 되나요?", "네, 됩니다.", kind=Article.Kind.SUPPORT_ANSWER, index=False)
    with pytest.raises(AliasRejected, match="curated answer"):
        article_alias_add(article_id=answer.pk, text="선물 포장")
    assert Article.objects.get(pk=answer.pk).aliases == ""
