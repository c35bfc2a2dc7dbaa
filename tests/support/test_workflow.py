"""Ticket workflow: transitions (valid and invalid), assignment, notes, replies, the history
page, list filters and the default order — through the services and through admin."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from support.models import EmailDelivery, Question, Ticket, TicketEvent
from support.roles import SUPPORT_AGENTS
from support.tickets import TicketInvalid, ticket_create
from support.workflow import (
    TRANSITIONS,
    TransitionInvalid,
    ticket_assign,
    ticket_customer_message_add,
    ticket_next_statuses,
    ticket_note_add,
    ticket_reopen,
    ticket_reply,
    ticket_transition,
)
from tests.html_forms import form_data

pytestmark = pytest.mark.django_db
S = Ticket.Status


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):  # service messages follow the active language
        yield


def make_ticket(text: str = "환불은 언제 되나요?", email: str = "kim@example.com") -> Ticket:
    question = Question.objects.create(text=text, status=Question.Status.NOT_CONFIDENT, escalation_recommended=True)
    return ticket_create(question=question, email=email, details="주문번호 NB123")


@pytest.fixture
def agent_user() -> User:
    user = User.objects.create_user("agent", "agent@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_AGENTS))
    return user


@pytest.fixture
def agent(agent_user: User) -> Client:
    client = Client()
    client.force_login(agent_user)
    client.cookies["django_language"] = "en"
    return client


@pytest.mark.parametrize(("start", "to"), [(a, b) for a in S.values for b in TRANSITIONS[a]])
def test_every_allowed_transition_moves_and_is_recorded(start: str, to: str, agent_user: User) -> None:
    ticket = make_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(status=start, reply="환불은 14일 이내입니다.", replied_at=timezone.now())
    TicketEvent.objects.create(
        ticket=ticket, kind=TicketEvent.Kind.REPLY, body="환불은 14일 이내입니다."
    )  # answered needs one
    moved = ticket_transition(ticket=ticket, to=to, by=agent_user)
    assert moved.status == to and Ticket.objects.get(pk=ticket.pk).status == to
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.STATUS)
    assert (event.from_status, event.to_status, event.actor) == (start, to, agent_user)


@pytest.mark.parametrize(
    ("start", "to"), [(a, b) for a in S.values for b in S.values if a != b and b not in TRANSITIONS[a]]
)
def test_every_other_transition_is_refused_with_a_clear_message(start: str, to: str) -> None:
    ticket = make_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(status=start)
    with pytest.raises(TransitionInvalid, match="can't become"):
        ticket_transition(ticket=ticket, to=to)
    assert Ticket.objects.get(pk=ticket.pk).status == start
    assert not TicketEvent.objects.filter(ticket=ticket).exists()


@pytest.mark.parametrize("start", [S.OPEN, S.PENDING_CUSTOMER])
def test_answered_without_a_sent_reply_is_refused_and_not_offered(start: str, agent_user: User) -> None:
    ticket = make_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(status=start, reply_draft="초안만 있습니다")
    ticket.refresh_from_db()
    assert S.ANSWERED not in ticket_next_statuses(ticket)
    with pytest.raises(TransitionInvalid, match="when a reply is sent"):
        ticket_transition(ticket=ticket, to=S.ANSWERED, by=agent_user)
    assert Ticket.objects.get(pk=ticket.pk).status == start
    ticket_reply(ticket=ticket, body="환불은 14일 이내입니다.", by=agent_user)  # the way to answered
    assert Ticket.objects.get(pk=ticket.pk).status == S.ANSWERED
    ticket_customer_message_add(ticket=ticket, body="아직 환불이 안 됐어요")  # back to open, unanswered
    ticket.refresh_from_db()
    assert ticket.status == S.OPEN and S.ANSWERED not in ticket_next_statuses(ticket)
    with pytest.raises(TransitionInvalid, match="when a reply is sent"):
        ticket_transition(ticket=ticket, to=S.ANSWERED, by=agent_user)
    ticket_reply(ticket=ticket, body="오늘 처리했습니다.", by=agent_user)
    assert Ticket.objects.get(pk=ticket.pk).status == S.ANSWERED


def test_only_staff_who_can_work_tickets_can_be_assigned(agent_user: User, agent: Client) -> None:
    ticket = make_ticket()
    editor = User.objects.create_user("editor", "editor@example.com", "pw", is_staff=True)  # no ticket permission
    with pytest.raises(TicketInvalid, match="can work on tickets"):
        ticket_assign(ticket=ticket, to=editor, by=agent_user)
    page = agent.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    offered = page.split('name="assignee"')[1].split("</select>")[0]
    assert ">agent<" in offered and ">editor<" not in offered
    assert ticket_assign(ticket=ticket, to=agent_user, by=agent_user)
    # An assignee who loses the permission stays assigned when someone saves a note.
    agent_user.groups.clear()
    admin = User.objects.create_superuser("boss", "boss@example.com", "pw")
    boss = Client()
    boss.force_login(admin)
    url = reverse("admin:support_ticket_change", args=[ticket.pk])
    data = form_data(boss.get(url).content.decode(), "ticket_form")
    boss.post(url, data | {"note": "고객에게 전화함", "_save": "Save"})
    ticket.refresh_from_db()
    assert ticket.assignee == agent_user and ticket.events.filter(kind=TicketEvent.Kind.NOTE).exists()


def test_unknown_status_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        ticket_transition(ticket=make_ticket(), to="resolved")


def test_reopen_refused_while_the_question_has_another_unresolved_ticket() -> None:
    first = make_ticket()
    ticket_transition(ticket=first, to=S.CLOSED)
    second = ticket_create(question=first.question, email="kim@example.com")
    with pytest.raises(TransitionInvalid, match=second.reference):
        ticket_reopen(ticket=first)
    ticket_transition(ticket=second, to=S.CLOSED)
    assert ticket_reopen(ticket=first).status == S.OPEN


def test_reply_answers_emails_and_is_refused_on_a_closed_ticket(agent_user: User) -> None:
    ticket = make_ticket()
    ticket_transition(ticket=ticket, to=S.PENDING_CUSTOMER)
    delivery = ticket_reply(ticket=ticket, body=" 14일 이내입니다. ", by=agent_user)
    assert ticket.status == S.ANSWERED and ticket.reply == "14일 이내입니다."
    assert delivery.kind == EmailDelivery.Kind.REPLY and delivery.recipient == "kim@example.com"
    assert delivery.state == EmailDelivery.State.PENDING
    kinds = list(ticket.events.values_list("kind", "to_status"))
    assert kinds == [("status", "pending_customer"), ("reply", ""), ("status", "answered")]
    with pytest.raises(TicketInvalid, match="empty"):
        ticket_reply(ticket=ticket, body="   ")
    ticket_transition(ticket=ticket, to=S.CLOSED)
    with pytest.raises(TransitionInvalid, match="reopen"):
        ticket_reply(ticket=ticket, body="more")
    assert ticket.deliveries.filter(kind=EmailDelivery.Kind.REPLY).count() == 1


def test_assignment_and_notes(agent_user: User) -> None:
    ticket = make_ticket()
    assert ticket_assign(ticket=ticket, to=agent_user, by=agent_user) is True
    assert ticket_assign(ticket=ticket, to=agent_user, by=agent_user) is False  # no change, no event
    customer = User.objects.create_user("customer")  # not staff
    with pytest.raises(TicketInvalid):
        ticket_assign(ticket=ticket, to=customer)
    with pytest.raises(TicketInvalid):
        ticket_note_add(ticket=ticket, body=" ", by=agent_user)
    ticket_note_add(ticket=ticket, body="고객 주문 확인함", by=agent_user)
    assert Ticket.objects.get(pk=ticket.pk).assignee == agent_user
    assert list(ticket.events.values_list("kind", flat=True)) == ["assignment", "note"]
    # internal notes never become email
    assert not ticket.deliveries.filter(kind=EmailDelivery.Kind.REPLY).exists()


def test_agent_works_a_ticket_in_admin_and_sees_its_history(agent: Client, agent_user: User) -> None:
    ticket = make_ticket(text="<script>alert(1)</script> 환불?")
    url = reverse("admin:support_ticket_change", args=[ticket.pk])
    page = agent.get(url).content.decode()
    assert 'name="_send_reply"' in page and 'name="_assign_to_me"' in page
    data = form_data(page, "ticket_form")
    assert agent.post(url, data | {"_assign_to_me": "Assign to me"}).status_code == 302
    after = agent.get(url).content.decode()
    assert f"The ticket is assigned to {agent_user.get_username()}." in after  # said, not only done
    data = form_data(after, "ticket_form")
    agent.post(url, data | {"note": "<b>VIP</b> customer", "reply": "초안입니다", "_save": "Save"})
    ticket.refresh_from_db()
    assert ticket.assignee == agent_user and ticket.reply_draft == "초안입니다" and ticket.reply == ""
    assert not ticket.deliveries.filter(kind=EmailDelivery.Kind.REPLY).exists()  # Save does not send
    data = form_data(agent.get(url).content.decode(), "ticket_form")
    assert data["reply"] == "초안입니다"  # the draft is back in the box
    agent.post(
        url, data | {"reply": "환불은 14일 이내입니다.", "transition": "pending_customer", "_send_reply": "Send"}
    )
    ticket.refresh_from_db()
    assert ticket.status == S.PENDING_CUSTOMER and ticket.reply == "환불은 14일 이내입니다."
    assert ticket.reply_draft == ""
    data = form_data(agent.get(url).content.decode(), "ticket_form")
    agent.post(url, data | {"transition": "answered", "_save": "Save"})
    data = form_data(agent.get(url).content.decode(), "ticket_form")
    response = agent.post(url, data | {"transition": "bogus", "_save": "Save"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()

    history = agent.get(url).content.decode().split('id="ticket-history"')[1].split("</table>")[0]
    for expected in (
        "Question asked", "&lt;script&gt;alert(1)&lt;/script&gt;", "Sent to support (Low confidence)",
        "Assigned to agent", "&lt;b&gt;VIP&lt;/b&gt; customer", "(internal)", "Reply to customer",
        "환불은 14일 이내입니다.", "Status: Open → Answered", "Status: Answered → Pending customer",
        "Status: Pending customer → Answered", "Email Notification to support to support-team@example.com",
    ):  # fmt: skip
        assert expected in history, expected
    assert "<script>" not in history


def test_changelist_filters_and_oldest_unanswered_first(agent: Client, agent_user: User) -> None:
    now = timezone.now()
    old_open, new_open, answered, old_closed = (make_ticket(email=f"c{i}@example.com") for i in range(4))
    for ticket, days in ((old_open, 10), (new_open, 0), (answered, 20), (old_closed, 30)):
        Ticket.objects.filter(pk=ticket.pk).update(created_at=now - timedelta(days=days, hours=1))
    ticket_reply(ticket=answered, body="done")
    ticket_transition(ticket=old_closed, to=S.CLOSED)
    ticket_assign(ticket=new_open, to=agent_user)

    def references(**params: str) -> list[str]:
        response = agent.get(reverse("admin:support_ticket_changelist"), params)
        assert response.status_code == 200
        return [t.reference for t in response.context["cl"].result_list]

    assert references() == [old_open.reference, new_open.reference, answered.reference, old_closed.reference]
    assert references(age="1d") == [new_open.reference]
    assert references(age="older") == [old_open.reference, answered.reference, old_closed.reference]
    assert references(assignee__id__exact=str(agent_user.pk)) == [new_open.reference]
    assert references(assignee__isnull="True") == [old_open.reference, answered.reference, old_closed.reference]
    assert references(status="answered", reason="low_confidence") == [answered.reference]


def test_list_actions_assign_to_me_and_close(agent: Client, agent_user: User) -> None:
    tickets = [make_ticket(email=f"c{i}@example.com") for i in range(2)]
    url = reverse("admin:support_ticket_changelist")
    ids = [str(t.pk) for t in tickets]
    agent.post(url, {"action": "assign_to_me", "_selected_action": ids})
    assert set(Ticket.objects.values_list("assignee", flat=True)) == {agent_user.pk}
    closed = agent.post(url, {"action": "close", "_selected_action": ids}, follow=True).content.decode()
    assert set(Ticket.objects.values_list("status", flat=True)) == {S.CLOSED}
    assert "2 tickets closed." in closed
    again = agent.post(url, {"action": "close", "_selected_action": ids}, follow=True).content.decode()
    assert "0 tickets closed." in again  # already closed: nothing changed, nothing counted


def test_a_page_left_open_applies_only_what_its_agent_changed(agent: Client, agent_user: User) -> None:
    """Two agents, one ticket: what a colleague or the worker did meanwhile is not undone."""
    ticket = make_ticket()
    colleague = User.objects.create_user("colleague", "c@example.com", "pw", is_staff=True)
    colleague.groups.add(Group.objects.get(name=SUPPORT_AGENTS))
    url = reverse("admin:support_ticket_change", args=[ticket.pk])
    stale = form_data(agent.get(url).content.decode(), "ticket_form")  # opened before the others acted
    ticket_assign(ticket=ticket, to=colleague, by=colleague)
    Ticket.objects.filter(pk=ticket.pk).update(reply_draft="환불은 14일 이내에 처리됩니다.")  # the worker's draft
    TicketEvent.objects.create(ticket=ticket, kind=TicketEvent.Kind.DRAFT, body="환불은 14일 이내에 처리됩니다.")
    agent.post(url, stale | {"note": "고객에게 전화함", "_continue": "Save"})
    ticket.refresh_from_db()
    assert ticket.assignee == colleague  # the stale page's "unassigned" was not applied
    assert ticket.reply_draft == "환불은 14일 이내에 처리됩니다."  # nor its empty reply box
    assert ticket.events.filter(kind=TicketEvent.Kind.NOTE, body="고객에게 전화함").exists()
    page = agent.get(url).content.decode()
    assert "This ticket changed while you had it open: Assignment (colleague), Draft reply (automatic)." in page
    # What the agent did change still applies: another assignee chosen, the box edited.
    fresh = form_data(page, "ticket_form")
    agent.post(url, fresh | {"assignee": str(agent_user.pk), "reply": "제가 답하겠습니다.", "_continue": "Save"})
    ticket.refresh_from_db()
    assert ticket.assignee == agent_user and ticket.reply_draft == "제가 답하겠습니다."


def test_a_reply_is_not_sent_over_a_colleagues_reply(agent: Client, agent_user: User) -> None:
    ticket = make_ticket()
    colleague = User.objects.create_user("colleague", "c@example.com", "pw", is_staff=True)
    colleague.groups.add(Group.objects.get(name=SUPPORT_AGENTS))
    url = reverse("admin:support_ticket_change", args=[ticket.pk])
    stale = form_data(agent.get(url).content.decode(), "ticket_form")
    ticket_reply(ticket=ticket, body="우도는 배송되지 않습니다.", by=colleague)
    agent.post(url, stale | {"reply": "우도도 배송됩니다.", "_send_reply": "Send"})
    ticket.refresh_from_db()
    assert ticket.deliveries.filter(kind=EmailDelivery.Kind.REPLY).count() == 1  # only the colleague's
    assert ticket.reply == "우도는 배송되지 않습니다." and ticket.reply_draft == "우도도 배송됩니다."
    page = agent.get(url).content.decode()
    assert "While you had this ticket open, colleague replied to the customer; your reply was not sent" in page
    assert "press “Send reply” to email it" not in page  # the refusal says it all
