"""The icon: admin pages name it, and ``/favicon.ico`` (asked for where no page names one) leads to it; the
admin's django-axes section in Korean."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


def test_favicon_ico_redirects_to_the_portals_icon(client: Client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("/support/favicon.svg")
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_admin_pages_name_the_icon(client: Client) -> None:
    login = client.get("/admin/login/")
    assert 'rel="icon"' in login.content.decode()
    staff = get_user_model().objects.create_superuser("icon-admin", "icon@example.com", "pw-icon-12345")
    client.force_login(staff)
    page = client.get("/admin/knowledge/article/add/").content.decode()
    assert 'rel="icon"' in page and "support/favicon.svg" in page


@pytest.mark.django_db
def test_the_login_attempts_section_of_the_korean_admin_is_in_korean(admin_client: Client) -> None:
    """django-axes ships no Korean: its section was headed "Axes" with "Access attempts" under it."""
    admin_client.cookies["django_language"] = "ko"
    index = admin_client.get("/admin/").content.decode()
    assert "로그인 시도" in index and "Access attempts" not in index and ">Axes<" not in index
    attempts = admin_client.get("/admin/axes/accessattempt/").content.decode()
    assert "<title>변경할 접근 시도 선택 |" in attempts
