"""Staff roles: the groups the migration creates and what admin lets each of them do."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from support.roles import CONTENT_EDITORS, ROLE_PERMISSIONS, SUPPORT_AGENTS, roles_sync

pytestmark = pytest.mark.django_db


def _member(username: str, *groups: str) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", "pw-" + username, is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def agent() -> Client:
    return _client(_member("agent", SUPPORT_AGENTS))


@pytest.fixture
def editor() -> Client:
    return _client(_member("editor", CONTENT_EDITORS))


def test_the_migration_created_both_groups_with_every_listed_permission() -> None:
    for name, wanted in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=name)
        have = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert have == set(wanted), name
    assert roles_sync(apps) == []  # nothing in the spec names a permission that does not exist


def test_both_roles_may_view_insights_and_plain_staff_may_not() -> None:
    assert _member("a", SUPPORT_AGENTS).has_perm("support.view_insights")
    assert _member("e", CONTENT_EDITORS).has_perm("support.view_insights")
    assert not _member("nobody").has_perm("support.view_insights")


def test_agent_works_tickets_but_only_reads_articles(agent: Client, make_article: object) -> None:
    make_article("환불 정책", "14일 이내 환불", index=False)  # type: ignore[operator]
    assert agent.get(reverse("admin:support_ticket_changelist")).status_code == 200
    assert agent.get(reverse("admin:support_question_changelist")).status_code == 200
    agent.cookies["django_language"] = "ko"  # the Korean admin
    refused = agent.get(reverse("admin:knowledge_article_add"))
    agent.cookies["django_language"] = "en"
    assert refused.status_code == 403
    page = refused.content.decode()  # it had been a bare "<h1>403 Forbidden</h1>" in English
    assert '<html lang="ko">' in page and "권한 없음" in page and reverse("admin:index") in page
    assert agent.get(reverse("admin:support_answerpolicy_changelist")).status_code == 403
    articles = agent.get(reverse("admin:knowledge_article_changelist")).content.decode()
    # view-only: no publish/unpublish/re-index actions offered
    assert 'value="publish"' not in articles and 'value="reindex"' not in articles
    index = agent.get(reverse("admin:index")).content.decode()
    assert "Tickets" in index and "Answer policy" not in index and "Groups" not in index


def test_editor_works_articles_and_cannot_see_tickets(editor: Client, make_article: object) -> None:
    make_article("환불 정책", "14일 이내 환불", index=False)  # type: ignore[operator]
    assert editor.get(reverse("admin:knowledge_article_add")).status_code == 200
    articles = editor.get(reverse("admin:knowledge_article_changelist")).content.decode()
    assert 'value="publish"' in articles and 'value="reindex"' in articles
    assert editor.get(reverse("admin:support_ticket_changelist")).status_code == 403
    assert editor.get(reverse("admin:support_question_changelist")).status_code == 403
    index = editor.get(reverse("admin:index")).content.decode()
    assert "Articles" in index and "Tickets" not in index
