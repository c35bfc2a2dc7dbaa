"""Past the database's capacity: 503 with Retry-After, never a 500 (support.middleware)."""

from collections.abc import Iterator
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import Client
from psycopg_pool import PoolTimeout

from support.middleware import database_busy

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny_pool() -> Iterator[DatabaseWrapper]:
    """A second connection to the test database through a pool of one connection, 0.3 s wait."""
    settings_dict = {**connection.settings_dict, "CONN_MAX_AGE": 0}
    settings_dict["OPTIONS"] = {**settings_dict["OPTIONS"], "pool": {"min_size": 1, "max_size": 1, "timeout": 0.3}}
    wrapper = DatabaseWrapper(settings_dict, alias="tiny_pool")
    try:
        yield wrapper
    finally:
        wrapper.close_pool()


def test_an_exhausted_pool_surfaces_as_operational_error_caused_by_pool_timeout(tiny_pool: DatabaseWrapper) -> None:
    tiny_pool.pool.open()
    held = tiny_pool.pool.getconn()  # another thread's request holds the only connection
    try:
        with pytest.raises(OperationalError) as raised:
            tiny_pool.ensure_connection()
    finally:
        tiny_pool.pool.putconn(held)
    assert isinstance(raised.value.__cause__, PoolTimeout)
    assert database_busy(raised.value)
    tiny_pool.pool.putconn(tiny_pool.pool.getconn(timeout=1))  # once it is back, the next request gets it


def _busy() -> OperationalError:
    try:
        with connection.wrap_database_errors:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")
    except OperationalError as exc:
        return exc
    raise AssertionError("unreachable")


def test_api_gets_json_503_with_retry_after(client: Client) -> None:
    with mock.patch("support.api.question_answer", side_effect=_busy()):
        response = client.post(
            "/api/v1/questions/", {"question": "환불은?"}, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
        )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    # a full pool and a database that is down look alike here: one message fits both
    assert response.json()["detail"] == "The service is unavailable for a moment. Please try again in a few seconds."


def test_pages_get_a_small_html_503_with_retry_after(client: Client) -> None:
    with mock.patch("support.views.question_answer", side_effect=_busy()):
        response = client.post("/", {"question": "환불은 어떻게 하나요?"})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/html")
    assert b"<html" in response.content


def test_too_many_clients_without_a_pool_is_also_a_503(client: Client) -> None:
    refused = OperationalError("connection failed: FATAL:  sorry, too many clients already")
    with mock.patch("support.api.question_answer", side_effect=refused):
        response = client.post(
            "/api/v1/questions/", {"question": "환불은?"}, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
        )
    assert response.status_code == 503


def test_other_database_errors_are_not_disguised(client: Client) -> None:
    deadlock = OperationalError("deadlock detected")
    with mock.patch("support.api.question_answer", side_effect=deadlock), pytest.raises(OperationalError):
        client.post("/api/v1/questions/", {"question": "환불은?"}, content_type="application/json")
