"""Known gaps: questions support confirmed no article answers, remembered with their embedding."""

import socket
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import translation
from pytest_django import Settings

from knowledge.embeddings import get_provider
from knowledge.embeddings.openai import OpenAIEmbeddingProvider
from knowledge.importers import read_known_gaps
from knowledge.models import KnowledgeBase, KnownGap
from knowledge.selectors import known_gap_nearest
from knowledge.services import KnownGapRejected, known_gap_add, known_gaps_add_lines, known_gaps_sync

pytestmark = pytest.mark.django_db


@translation.override("en")  # the messages are for staff, in the active language
def test_a_gap_is_one_line_embedded_once_per_collection(live_kb: Any) -> None:
    gap = known_gap_add(knowledge_base=live_kb, text="  Do you ship\nto <b>Canada</b>? ")
    provider = get_provider()
    assert gap.text == "Do you ship to Canada?" and gap.embedding_model == provider.name
    assert len(gap.embedding) == provider.dimensions
    with pytest.raises(KnownGapRejected, match="already a known gap"):
        known_gap_add(knowledge_base=live_kb, text="do you ship to CANADA?")
    with pytest.raises(KnownGapRejected, match="empty"):
        known_gap_add(knowledge_base=live_kb, text="<script>alert(1)</script>")
    other = KnowledgeBase.objects.create(slug="other", name="Other")
    known_gap_add(knowledge_base=other, text="Do you ship to Canada?")  # each collection has its own
    near, text = known_gap_nearest(live_kb.pk, provider.embed_query("Can you send my order to Canada?"), provider.name)
    assert text == "Do you ship to Canada?" and 0.8 < near <= 1.0
    assert known_gap_nearest(live_kb.pk, provider.embed_query("x"), "another-model") is None  # other vectors: unused


@translation.override("en")
def test_a_gap_that_cannot_be_embedded_now_is_not_stored(live_kb: Any, settings: Settings) -> None:
    with socket.socket() as sock:  # a port nothing listens on: the embedding API is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = f"http://127.0.0.1:{port}/v1", "sk-test"
    settings.OPENAI_MAX_RETRIES, settings.OPENAI_TIMEOUT_SECONDS = 0, 2.0
    with pytest.raises(KnownGapRejected, match="could not be remembered now"):
        known_gap_add(knowledge_base=live_kb, text="Do you ship to Canada?", provider=OpenAIEmbeddingProvider())
    assert not KnownGap.objects.exists()


def test_sync_keeps_what_is_listed_and_replaces_the_rest(live_kb: Any) -> None:
    provider = get_provider()
    known_gap_add(knowledge_base=live_kb, text="Do you ship to Canada?")
    kept = KnownGap.objects.get().pk
    known_gap_add(knowledge_base=live_kb, text="Can I pay with bitcoin?")
    added = known_gaps_sync(
        knowledge_base=live_kb, lines=["do you ship to canada?", "Is gift wrapping available?", ""], provider=provider
    )
    assert added == 1
    assert sorted(KnownGap.objects.values_list("text", flat=True)) == [
        "Do you ship to Canada?", "Is gift wrapping available?"
    ]  # fmt: skip
    assert KnownGap.objects.filter(pk=kept).exists()  # not embedded again
    KnownGap.objects.filter(pk=kept).update(embedding_model="an-earlier-model")  # the model changed since
    assert known_gaps_add_lines(knowledge_base=live_kb, lines=["Do you ship to Canada?"], provider=provider) == (1, [])
    assert KnownGap.objects.get(pk=kept).embedding_model == provider.name  # embedded again, in place


def test_import_articles_adds_a_folders_known_gaps_once(live_kb: Any, tmp_path: Path) -> None:
    (tmp_path / "shipping.md").write_text(
        "---\ntitle: Shipping\nslug: shipping\nlanguage: en\n---\nStandard delivery takes 1–2 business days.\n",
        encoding="utf-8",
    )
    (tmp_path / "known-gaps.txt").write_text(
        "# questions no article answers\nDo you ship to Canada?\n\nCan I pay with bitcoin?\n", encoding="utf-8"
    )
    assert read_known_gaps(tmp_path) == ["Do you ship to Canada?", "Can I pay with bitcoin?"]
    assert read_known_gaps(tmp_path / "shipping.md") == []  # a single file has no folder of gaps
    out = StringIO()
    call_command("import_articles", str(tmp_path), stdout=out, stderr=StringIO())
    assert "2 known gaps added, 0 already known, 0 skipped" in out.getvalue()
    assert set(KnownGap.objects.filter(knowledge_base=live_kb).values_list("text", flat=True)) == {
        "Do you ship to Canada?", "Can I pay with bitcoin?"
    }  # fmt: skip
    out = StringIO()
    call_command("import_articles", str(tmp_path), stdout=out, stderr=StringIO())
    assert "0 known gaps added, 2 already known, 0 skipped" in out.getvalue()


def test_editors_read_search_and_delete_known_gaps_in_admin_and_agents_do_not(live_kb: Any) -> None:
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from django.urls import reverse

    from support.roles import CONTENT_EDITORS, SUPPORT_AGENTS

    gap = known_gap_add(knowledge_base=live_kb, text="Do you ship to Canada?")
    known_gap_add(knowledge_base=live_kb, text="Can I pay with bitcoin?")
    clients = {}
    for name, group in (("editor", CONTENT_EDITORS), ("agent", SUPPORT_AGENTS)):
        User.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True).groups.add(
            Group.objects.get(name=group)
        )
        clients[name] = Client()
        clients[name].force_login(User.objects.get(username=name))
    listing = reverse("admin:knowledge_knowngap_changelist")
    found = clients["editor"].get(listing, {"q": "canada"}).content.decode()
    assert "Do you ship to Canada?" in found and "bitcoin" not in found
    assert clients["editor"].get(reverse("admin:knowledge_knowngap_add")).status_code == 403  # from a ticket only
    assert clients["agent"].get(listing).status_code == 403
    response = clients["editor"].post(reverse("admin:knowledge_knowngap_delete", args=[gap.pk]), {"post": "yes"})
    assert response.status_code == 302 and response["Location"] == listing  # back to the list, not admin's home
    assert list(KnownGap.objects.values_list("text", flat=True)) == ["Can I pay with bitcoin?"]
