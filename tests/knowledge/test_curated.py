"""Curated answers: creation rules, publishing to a support-answer article, re-sync, unpublishing."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from knowledge.curated import (
    CuratedAnswerInvalid,
    curated_answer_create,
    curated_answer_publish,
    curated_answer_unpublish,
)
from knowledge.models import Article, CuratedAnswer
from knowledge.selectors import retrieve
from knowledge.services import article_index
from support.roles import CONTENT_EDITORS
from tests.html_forms import form_data

pytestmark = pytest.mark.django_db


def test_create_validates_and_normalises(settings: object) -> None:
    with pytest.raises(CuratedAnswerInvalid):
        curated_answer_create(question=" ", answer="x", language="ko")
    with pytest.raises(CuratedAnswerInvalid):
        curated_answer_create(question="q", answer="  ", language="ko")
    settings.ARTICLE_BODY_MAX_CHARS = 10  # type: ignore[attr-defined]
    with pytest.raises(CuratedAnswerInvalid, match="limit"):
        curated_answer_create(question="q", answer="x" * 11, language="ko")
    with pytest.raises(CuratedAnswerInvalid, match="At most 30 lines"):  # they become "also asked as" lines
        curated_answer_create(question="q", answer="a", language="ko", variants=[f"v{n}" for n in range(40)])
    curated = curated_answer_create(question=" q ", answer=" a ", language="xx", variants=["v1", " ", "v1", "v2"])
    assert (curated.question, curated.answer, curated.language, curated.variants) == ("q", "a", "ko", "v1\nv2")
    assert curated.status == CuratedAnswer.Status.DRAFT


def test_publish_indexes_the_question_and_variants_and_unpublish_hides_it(
    live_kb: object, django_capture_on_commit_callbacks: object
) -> None:
    curated = curated_answer_create(
        question="선물 포장 서비스가 있나요?", answer="네, 포장비 2,000원이 추가됩니다.", language="ko",
        variants="기프트 래핑 가능한가요?",
    )  # fmt: skip
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        article = curated_answer_publish(curated_answer=curated)
    assert len(callbacks) == 1  # indexing enqueued after commit
    assert (article.kind, article.title, article.aliases, article.body) == (
        "support_answer", "선물 포장 서비스가 있나요?", "기프트 래핑 가능한가요?", "네, 포장비 2,000원이 추가됩니다.",
    )  # fmt: skip
    assert article.slug == f"support-answer-{curated.pk}" and article.status == Article.Status.PUBLISHED
    assert article_index(article_id=article.pk)
    chunk = article.chunks.get()
    assert "기프트 래핑 가능한가요?" in chunk.text and "기프트" in chunk.lexemes.split()
    assert "기프트" not in chunk.content  # variants are searchable, never shown
    found = retrieve(question="기프트 래핑 되나요?", kb_id=article.knowledge_base_id, limit=1)
    assert found.chunks[0].article_id == article.pk

    assert curated_answer_unpublish(curated_answer=curated) is True
    assert curated_answer_unpublish(curated_answer=curated) is False
    found = retrieve(question="기프트 래핑 되나요?", kb_id=article.knowledge_base_id, limit=1)
    assert all(c.article_id != article.pk for c in found.chunks)

    curated.answer = "포장비는 무료입니다."
    curated.save()
    again = curated_answer_publish(curated_answer=curated)
    assert again.pk == article.pk and again.body == "포장비는 무료입니다." and again.status == "published"


def test_editor_edits_a_published_answer_in_admin_and_the_article_follows(live_kb: object) -> None:
    user = User.objects.create_user("editor", "e@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name=CONTENT_EDITORS))
    client = Client()
    client.force_login(user)
    curated = curated_answer_create(question="선물 포장?", answer="유료입니다.", language="ko", origin_reference="T-1")
    article = curated_answer_publish(curated_answer=curated)
    url = reverse("admin:knowledge_curatedanswer_change", args=[curated.pk])
    page = client.get(url).content.decode()
    assert "T-1" in page and reverse("admin:support_ticket_changelist") in page
    data = form_data(page, "curatedanswer_form")
    assert client.post(url, data | {"answer": "<b>무료</b>입니다.", "_save": "Save"}).status_code == 302
    article.refresh_from_db()
    assert article.body == "<b>무료</b>입니다." and article.status == "published"


def test_deleting_a_published_answer_in_admin_deletes_its_article_and_customers_stop_getting_it(
    live_kb: object,
) -> None:
    user = User.objects.create_user("editor", "e@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name=CONTENT_EDITORS))
    client = Client()
    client.force_login(user)
    curated = curated_answer_create(question="선물 포장 되나요?", answer="포장비 2,000원입니다.", language="ko")
    article = curated_answer_publish(curated_answer=curated)
    assert article_index(article_id=article.pk)
    assert retrieve(question="선물 포장 되나요?", kb_id=article.knowledge_base_id, limit=1).chunks[0].article_id == (
        article.pk
    )
    url = reverse("admin:knowledge_curatedanswer_delete", args=[curated.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not CuratedAnswer.objects.exists() and not Article.objects.filter(pk=article.pk).exists()
    assert not retrieve(question="선물 포장 되나요?", kb_id=article.knowledge_base_id, limit=1).chunks
    other = curated_answer_publish(curated_answer=curated_answer_create(question="q?", answer="a.", language="ko"))
    changelist = reverse("admin:knowledge_curatedanswer_changelist")
    bulk = {"action": "delete_selected", "_selected_action": [other.curated_answer.pk], "post": "yes"}
    assert client.post(changelist, bulk).status_code == 302
    assert not Article.objects.filter(pk=other.pk).exists()


def test_a_support_answer_article_is_kept_in_step_with_its_curated_answer(
    live_kb: object, admin_client: Client
) -> None:
    admin_client.cookies["django_language"] = "en"
    curated = curated_answer_create(question="선물 포장 되나요?", answer="포장비 2,000원입니다.", language="ko")
    article = curated_answer_publish(curated_answer=curated)
    page = admin_client.get(reverse("admin:knowledge_article_change", args=[article.pk])).content.decode()
    assert 'name="body"' not in page and 'name="status"' not in page  # edited as the curated answer
    assert reverse("admin:knowledge_curatedanswer_change", args=[curated.pk]) in page
    changelist = reverse("admin:knowledge_article_changelist")
    admin_client.post(changelist, {"action": "unpublish", "_selected_action": [article.pk]})
    article.refresh_from_db()
    curated.refresh_from_db()
    assert article.status == Article.Status.DRAFT and curated.status == CuratedAnswer.Status.DRAFT  # together
    said = admin_client.post(changelist, {"action": "publish", "_selected_action": [article.pk]}, follow=True)
    assert "published and unpublished with their curated answer" in said.content.decode()
    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT  # not behind the curated answer's back
    page = admin_client.get(reverse("admin:knowledge_article_change", args=[article.pk])).content.decode()
    assert 'name="knowledge_base"' not in page and "deletelink" not in page  # moved or deleted only with it
    # A support answer whose curated answer is gone (or a draft already) is still unpublished here.
    orphan = curated_answer_publish(curated_answer=curated_answer_create(question="q?", answer="a.", language="ko"))
    CuratedAnswer.objects.filter(article=orphan).delete()
    admin_client.post(changelist, {"action": "unpublish", "_selected_action": [orphan.pk]})
    orphan.refresh_from_db()
    assert orphan.status == Article.Status.DRAFT


def test_a_support_answer_is_retrieved_only_for_questions_like_its_own(sample_articles, live_kb) -> None:  # type: ignore[no-untyped-def]
    """Short and question-like, a support answer's passage embedding is near every question: one
    about deleting an account had come first for "어디서 사나요?" and "Can I pay with bitcoin?"."""
    curated = curated_answer_create(
        question="계정 탈퇴는 어떻게 하나요?", answer="문의 감사합니다! 마이페이지 > 설정 > 회원 탈퇴에서 탈퇴할 수 있습니다.",
        language="ko", variants="회원 탈퇴 방법",
    )  # fmt: skip
    article = curated_answer_publish(curated_answer=curated)
    assert article_index(article_id=article.pk)
    chunk = article.chunks.get()
    assert len(chunk.alias_vectors) == 2 * 384 * 2  # the question and its variant, embedded as queries (float16)

    def first(question: str) -> int | None:
        found = retrieve(question=question, kb_id=live_kb.pk).chunks
        return found[0].article_id if found else None

    for unrelated in ("어디서 사나요?", "회사 주식은 어디서 사나요?", "Can I pay with bitcoin?"):
        assert all(c.article_id != article.pk for c in retrieve(question=unrelated, kb_id=live_kb.pk).chunks), unrelated
    assert first("회원 탈퇴하고 싶어요") == article.pk  # shares a word
    assert first("How do I delete my account?") == article.pk  # none shared, but the same question


def test_a_support_answer_page_keeps_the_replys_line_breaks(live_kb, client) -> None:  # type: ignore[no-untyped-def]
    curated = curated_answer_create(
        question="How do I delete my account?", answer="Thanks for asking!\nYou can delete it under My page.",
        language="en",
    )  # fmt: skip
    article = curated_answer_publish(curated_answer=curated)
    page = client.get(article.get_absolute_url()).content.decode()
    assert "Thanks for asking!<br" in page  # an email reply's lines, not run into one paragraph
    plain = Article.objects.create(
        knowledge_base=live_kb, slug="plain", title="Plain", body="One line\nand its continuation.", status="published"
    )
    assert (
        "One line\nand its continuation." in client.get(plain.get_absolute_url()).content.decode()
    )  # Markdown as ever
