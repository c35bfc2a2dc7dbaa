import unicodedata

import pytest
from django.core import mail

from support.models import EmailDelivery, Question, Ticket
from support.outbox import EmailSendFailed, email_delivery_send
from support.services import QuestionInvalid, question_answer, question_clean, question_normalise, question_search_text
from support.tickets import ticket_create
from support.workflow import ticket_reply

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t ", "\u200b", " \ufeff\u200b\u3000", "\u3164\u3164", "\u2800", "\u0301\u0301", " \u3164\u0301 "],
)  # the last four draw nothing: Hangul fillers, the blank braille pattern, combining marks on nothing
def test_empty_question_is_refused(text: str) -> None:
    with pytest.raises(QuestionInvalid, match="type a question"):
        question_answer(text=text)
    assert Question.objects.count() == 0


def test_a_question_that_draws_keeps_its_marks_and_inner_fillers() -> None:
    assert question_normalise("\u3164 환불\u3164돼요? \u2800") == "환불\u3164돼요?"
    assert question_normalise("❤\ufe0f") == "❤\ufe0f"  # an emoji with its variation selector


def test_a_decomposed_korean_question_is_read_as_the_composed_one(sample_articles) -> None:  # type: ignore[no-untyped-def]
    """Korean from macOS arrives in NFD (비 = ᄇ + ᅵ): it must be searched and stored as typed on
    any other keyboard, not escalated as unknown words."""
    composed = "환불은 결제 후 며칠 이내에 가능한가요?"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    nfd = question_answer(text="\u200b" + decomposed).question
    nfc = question_answer(text=composed).question
    assert nfd.text == composed and nfd.language == "ko"
    assert (nfd.status, nfd.answer, nfd.confidence) == (nfc.status, nfc.answer, nfc.confidence)
    assert nfd.status == Question.Status.ANSWERED


def test_a_fullwidth_question_is_read_as_the_ascii_one(sample_articles) -> None:  # type: ignore[no-untyped-def]
    """A Korean IME in full-width mode types ＡＳＣＩＩ: it had been escalated at 0.246 where the
    same words in ASCII were answered at 0.999."""
    assert question_normalise("ＨＯＷ　ＤＯ Ｉ ＤＥＬＥＴＥ ＭＹ ＡＣＣＯＵＮＴ？") == "HOW DO I DELETE MY ACCOUNT?"
    assert question_normalise("ㅋㅋ 환불 ３일？") == "ㅋㅋ 환불 3일?"  # compatibility jamo stay as typed
    wide = question_answer(text="Ｈｏｗ ｄｏ Ｉ ｄｅｌｅｔｅ ｍｙ ａｃｃｏｕｎｔ？").question
    ascii_ = question_answer(text="How do I delete my account?").question
    assert (wide.status, wide.answer, wide.confidence) == (ascii_.status, ascii_.answer, ascii_.confidence)


def test_markup_in_a_question_is_not_searched_but_the_question_is_kept_as_typed(sample_articles) -> None:  # type: ignore[no-untyped-def]
    """A question opening "<script>alert(1)</script> how long is …" had been escalated where the words alone are
    answered: "script" and "alert" counted as words no article holds (exploratory pass,
    twenty-first session). Plain text between angle brackets is not markup and stays."""
    words = "How long is the password reset link valid?"
    plain = question_answer(text=words).question
    marked = question_answer(text=f"<script>alert(1)</script> <b>{words}</b>").question
    assert marked.text == f"<script>alert(1)</script> <b>{words}</b>"  # stored and shown (escaped) as typed
    assert marked.retrieval_query == words and marked.language == "en"
    assert (marked.status, marked.answer, marked.confidence) == (plain.status, plain.answer, plain.confidence)
    assert marked.status == Question.Status.ANSWERED
    korean = question_answer(text="<i>환불은</i> 결제 후 며칠 이내에 가능한가요? <노인과 바다>").question
    assert korean.retrieval_query == "환불은 결제 후 며칠 이내에 가능한가요? <노인과 바다>" and korean.language == "ko"
    assert question_search_text("how much is <b>shipping</b>?") == "how much is shipping?"  # inline: no space
    assert question_search_text("배송비<br>얼마예요?<p>제주도</p>") == "배송비 얼마예요? 제주도"  # a line ends: a space
    assert question_search_text("a < b, 3 > 2") == "a < b, 3 > 2"  # no markup: as typed
    glued = question_answer(text="How long is the password reset link<br>valid?").question
    assert glued.retrieval_query == words  # a tag between two words keeps them apart
    only = question_answer(text="<script>alert(1)</script><img src=x onerror=alert(1)>").question
    assert only.status == Question.Status.NO_SOURCES and only.sources == [] and only.escalation_recommended
    assert only.text == "<script>alert(1)</script><img src=x onerror=alert(1)>"  # nothing but markup: no words


def test_the_length_limit_counts_composed_syllables(settings) -> None:  # type: ignore[no-untyped-def]
    settings.QUESTION_MAX_CHARS = 10
    assert question_clean(unicodedata.normalize("NFD", "환불은 며칠 걸려요")) == "환불은 며칠 걸려요"  # 10, not 22


def test_over_long_question_is_refused_with_the_limit(settings) -> None:  # type: ignore[no-untyped-def]
    settings.QUESTION_MAX_CHARS = 50
    with pytest.raises(QuestionInvalid, match="limited to 50 characters"):
        question_answer(text="가" * 51)


def test_answerable_korean_and_english_questions_are_answered_with_citations(sample_articles) -> None:  # type: ignore[no-untyped-def]
    ko = question_answer(text="환불은 결제 후 며칠 이내에 가능한가요?").question
    assert ko.status == Question.Status.ANSWERED and not ko.escalation_recommended
    assert ko.sources[0]["article_id"] == sample_articles["refund"].pk and ko.sources[0]["cited"]
    assert "14일" in ko.answer
    assert ko.answer_kind == "extractive" and ko.language == "ko"
    en = question_answer(text="How long is the password reset link valid?").question
    assert en.status == Question.Status.ANSWERED
    assert "30 minutes" in en.answer and en.language == "en"
    assert 0 <= en.confidence <= 1 and set(en.timings_ms) >= {"embed", "sql", "answer"}


def test_the_answerer_gets_the_customer_language_centroid_only_for_an_other_language_source(sample_articles) -> None:  # type: ignore[no-untyped-def]
    """The request an answerer receives: with an English first source for a Korean question,
    the Korean sentence centroid of this knowledge base (as long as the query vector); with a
    Korean first source, none."""
    from knowledge.models import Chunk
    from support.answering.extractive import ExtractiveAnswerer

    class Recording(ExtractiveAnswerer):
        requests: list[dict] = []  # type: ignore[type-arg]

        def answer(self, **request):  # type: ignore[no-untyped-def]
            self.requests.append(request)
            return super().answer(**request)

    recording = Recording()
    foreign = question_answer(text="비밀번호 재설정 링크는 몇 분 동안 유효해요?", provider=recording).question
    assert foreign.sources[0]["article_id"] == sample_articles["password"].pk
    centroid = recording.requests[-1]["language_centroid"]
    assert centroid is not None and len(centroid) == Chunk.objects.first().embedding_dimensions  # type: ignore[union-attr]
    question_answer(text="환불은 결제 후 며칠 이내에 가능한가요?", provider=recording)
    assert recording.requests[-1]["language_centroid"] is None


def test_an_unrelated_question_is_not_answered_but_escalated(sample_articles) -> None:  # type: ignore[no-untyped-def]
    q = question_answer(text="화성 탐사선의 발사 일정은 언제인가요?").question
    assert q.status in (Question.Status.NOT_CONFIDENT, Question.Status.NO_SOURCES)
    assert q.escalation_recommended and q.confidence < q.threshold
    assert Question.objects.filter(pk=q.pk).exists()  # stored, never lost


def test_nothing_indexed_means_no_sources(live_kb) -> None:  # type: ignore[no-untyped-def]
    q = question_answer(text="환불은 어떻게 하나요?").question
    assert q.status == Question.Status.NO_SOURCES and q.escalation_recommended and q.sources == []


def test_threshold_comes_from_the_admin_policy(sample_articles) -> None:  # type: ignore[no-untyped-def]
    from support.models import AnswerPolicy

    AnswerPolicy.objects.update_or_create(pk=1, defaults={"confidence_threshold": 0.999})
    q = question_answer(text="환불은 며칠 안에 받을 수 있나요?").question
    assert q.threshold == 0.999 and q.status == Question.Status.NOT_CONFIDENT


def test_ticket_owes_two_emails_enqueued_on_commit(sample_articles, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    question = question_answer(text="화성 탐사선의 발사 일정은 언제인가요?").question
    with django_capture_on_commit_callbacks() as callbacks:
        ticket = ticket_create(question=question, email="kim@example.com", details="빨리 알려주세요")
    assert len(callbacks) == 2
    assert ticket.reason in (Ticket.Reason.LOW_CONFIDENCE, Ticket.Reason.NO_SOURCES)
    kinds = set(ticket.deliveries.values_list("kind", "recipient"))
    assert kinds == {("ack", "kim@example.com"), ("notify", "support-team@example.com")}


def test_escalating_an_answered_question_is_a_customer_request(sample_articles) -> None:  # type: ignore[no-untyped-def]
    question = question_answer(text="환불은 결제 후 며칠 이내에 가능한가요?").question
    assert question.status == Question.Status.ANSWERED
    assert ticket_create(question=question, email="kim@example.com").reason == Ticket.Reason.CUSTOMER_REQUEST


def test_each_email_is_sent_exactly_once_even_if_the_task_runs_twice(sample_articles) -> None:  # type: ignore[no-untyped-def]
    question = question_answer(text="화성 탐사선?").question
    ticket = ticket_create(question=question, email="kim@example.com")
    for delivery in ticket.deliveries.all():
        assert email_delivery_send(delivery_id=delivery.pk) is True
        assert email_delivery_send(delivery_id=delivery.pk) is False
    assert len(mail.outbox) == 2
    ack = next(m for m in mail.outbox if m.to == ["kim@example.com"])
    assert ticket.reference in ack.subject and ticket.reference in ack.body
    notify = next(m for m in mail.outbox if m.to == ["support-team@example.com"])
    assert "화성 탐사선?" in notify.body
    assert all(d.state == EmailDelivery.State.SENT for d in ticket.deliveries.all())


def test_smtp_down_keeps_the_email_owed_and_it_goes_out_on_retry(sample_articles, settings) -> None:  # type: ignore[no-untyped-def]
    ticket = ticket_create(question=question_answer(text="화성 탐사선?").question, email="kim@example.com")
    delivery = ticket.deliveries.get(kind="ack")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    with pytest.raises(EmailSendFailed):
        email_delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == EmailDelivery.State.PENDING and delivery.attempts == 1 and delivery.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert email_delivery_send(delivery_id=delivery.pk) is True
    assert len(mail.outbox) == 1


def test_ticket_is_stored_even_when_the_broker_is_down(
    sample_articles, broker_down, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    question = question_answer(text="화성 탐사선?").question
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_create(question=question, email="kim@example.com")
    assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert ticket.deliveries.filter(state=EmailDelivery.State.PENDING).count() == 2


def test_after_a_failed_publish_the_process_leaves_the_broker_alone_for_a_while(broker_down, caplog) -> None:  # type: ignore[no-untyped-def]
    """Each publish to a Redis that does not answer costs its socket timeout; an escalation owes
    two emails, so the second is not tried (it stays pending for the sweeper, like the first)."""
    import logging

    import tasks
    from tasks.support import send_ticket_email

    caplog.set_level(logging.INFO, logger="tasks")
    assert tasks.enqueue(send_ticket_email, 1, 0) is False
    assert "broker unavailable" in caplog.text
    caplog.clear()
    assert tasks.enqueue(send_ticket_email, 2, 0) is False
    assert "broker down recently" in caplog.text and "broker unavailable" not in caplog.text
    tasks._broker_down_until = 0.0  # the pause is over: tried again
    caplog.clear()
    assert tasks.enqueue(send_ticket_email, 3, 0) is False and "broker unavailable" in caplog.text


def test_staff_reply_answers_the_ticket_and_owes_a_reply_email(sample_articles, admin_user) -> None:  # type: ignore[no-untyped-def]
    ticket = ticket_create(question=question_answer(text="화성 탐사선?").question, email="kim@example.com")
    delivery = ticket_reply(ticket=ticket, body="다음 달에 발사합니다.", by=admin_user)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.ANSWERED and ticket.replied_by == admin_user
    assert email_delivery_send(delivery_id=delivery.pk) is True
    assert "다음 달에 발사합니다." in mail.outbox[0].body


def test_a_failure_inside_answering_keeps_the_question_with_what_broke(sample_articles, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Not a client hanging up: the error says what broke, the question is kept, the exception propagates.
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("ranking broke")

    monkeypatch.setattr("support.services._rank_sources", broken)
    with pytest.raises(RuntimeError, match="ranking broke"):
        question_answer(text="How long is the password reset link valid?")
    stored = Question.objects.get()
    assert stored.status == Question.Status.MODEL_ERROR and stored.escalation_recommended
    assert stored.error == "internal: RuntimeError('ranking broke')"
