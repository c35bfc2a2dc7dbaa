"""export_finetune: the live chat format, the legacy completion format, SQuAD and db sources, validation."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from knowledge.models import CuratedAnswer
from support import finetune
from support.answering.openai import parse_reply, system_prompt
from support.models import EmailDelivery, Question, Ticket
from tests.conftest import BASE_DIR, KORQUAD

SQUAD_SMALL = BASE_DIR / "tests" / "fixtures" / "squad_small.json"


def export(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("export_finetune", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_squad_chat_examples_are_in_the_live_answerers_format(tmp_path: Path) -> None:
    train, val = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    stdout, _ = export("--source", "squad", "--squad", str(SQUAD_SMALL), "--out", str(train),
                       "--validation-out", str(val), "--validation-fraction", "0.2", "--seed", "3")  # fmt: skip
    examples, held_out = lines(train), lines(val)
    assert len(examples) + len(held_out) == 18 and len(held_out) == 4  # round(18 * 0.2)
    first = next(e["messages"] for e in examples if "배송" in e["messages"][1]["content"])
    assert [m["role"] for m in first] == ["system", "user", "assistant"]
    assert first[0]["content"] == system_prompt("ko")  # the live prompt, imported
    assert "<sources>" in first[1]["content"] and "<question>" in first[1]["content"]
    answer, cited, answerable, _span = parse_reply(first[2]["content"], {1})  # the live parser accepts it
    assert answer and cited == [1] and answerable
    assert "18 pairs from squad; 18 valid examples" in stdout
    assert "billed training tokens for 3 epochs:" in stdout
    billed = int(stdout.split("for 3 epochs: ")[1].split()[0].replace(",", ""))
    assert billed == 3 * sum(finetune.example_tokens(e) for e in examples)
    again = tmp_path / "again.jsonl"
    export("--source", "squad", "--squad", str(SQUAD_SMALL), "--out", str(again),
           "--validation-out", str(tmp_path / "v2.jsonl"), "--validation-fraction", "0.2", "--seed", "3")  # fmt: skip
    assert again.read_text() == train.read_text()  # the seed fixes the split


def test_completion_format_has_the_separator_and_stop_sequence(tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    _, stderr = export("--source", "squad", "--squad", str(SQUAD_SMALL), "--out", str(train), "--format", "completion")
    examples = lines(train)
    assert len(examples) == 18 and all(set(e) == {"prompt", "completion"} for e in examples)
    assert all(e["prompt"].endswith(finetune.COMPLETION_SEPARATOR) and "Question: " in e["prompt"] for e in examples)
    assert all(e["completion"].startswith(" ") and e["completion"].endswith(finetune.COMPLETION_STOP) for e in examples)
    assert stderr == ""  # 18 examples: no small-file warning


def test_validation_names_the_errors_of_the_guide() -> None:
    assert finetune.chat_errors({"messages": []}) == ["missing_messages_list"]
    bad = {"messages": [{"role": "user", "content": " "}, {"role": "robot", "content": "x"}, {"content": "y"}]}
    assert finetune.chat_errors(bad) == [
        "missing_content", "unrecognized_role", "message_missing_key", "example_missing_assistant_message"
    ]  # fmt: skip
    assert finetune.completion_errors({"prompt": "q", "completion": " a END"}) == ["prompt_missing_separator"]
    ok = finetune.completion_example(finetune.Pair(question="q", answer="a", language="en"))
    assert finetune.completion_errors(ok) == []
    pairs = [finetune.Pair(question="배송은?", answer="이틀", language="ko")] * 2 + [
        finetune.Pair(question="환불은?", answer="", language="ko")
    ]
    prepared = finetune.prepare(pairs, "chat")
    assert len(prepared.examples) == 1 and prepared.dropped == {"duplicate": 1, "missing_answer": 1}
    assert finetune.prepare(pairs[:1], "chat", max_tokens=10).dropped == {"over_token_limit": 1}
    chat = finetune.chat_example(pairs[0])
    encoding = finetune.encoding_named("cl100k_base")
    expected = 3 + sum(3 + len(encoding.encode(m["content"])) for m in chat["messages"])
    assert finetune.example_tokens(chat) == expected


@pytest.mark.django_db
def test_db_source_takes_tickets_whose_reply_was_sent(tmp_path: Path) -> None:
    def ticket(text: str, reply: str, state: str) -> Ticket:
        q = Question.objects.create(text=text, language="ko", status="not_confident",
                                    sources=[{"title": "환불 정책", "excerpt": "14일 이내 환불"}])  # fmt: skip
        t = Ticket.objects.create(question=q, email="kim@example.com", reason="low_confidence", reply=reply)
        EmailDelivery.objects.create(ticket=t, kind="reply", recipient=t.email, body=reply, state=state,
                                     sent_at=timezone.now() if state == "sent" else None)  # fmt: skip
        return t

    ticket("환불 기간은?", "14일 이내에 환불할 수 있습니다.", "sent")
    ticket("배송비는?", "3,000원입니다.", "failed")  # never reached the customer: not approved
    train = tmp_path / "train.jsonl"
    stdout, stderr = export("--out", str(train))
    (example,) = lines(train)
    assert "1 pairs from db" in stdout and "warning: only 1 training examples" in stderr
    user, assistant = example["messages"][1]["content"], example["messages"][2]["content"]
    assert "환불 기간은?" in user and "14일 이내 환불" in user  # the sources stored with the question
    assert json.loads(assistant) == {
        "answer": "14일 이내에 환불할 수 있습니다.",
        "cited_sources": [],
        "answerable": True,
    }


@pytest.mark.django_db
def test_db_source_takes_published_curated_answers_and_their_variants(tmp_path: Path, admin_client: Any) -> None:
    published = CuratedAnswer.objects.create(
        question="나비 플러스 해지하면 환불돼요?", variants="Plus 해지 환불\n\n", answer="남은 기간만큼 환불됩니다.",
        language="ko", status=CuratedAnswer.Status.PUBLISHED,
    )  # fmt: skip
    draft = CuratedAnswer.objects.create(question="초안", answer="아직 검토 전", language="ko")
    train = tmp_path / "train.jsonl"
    stdout, _ = export("--out", str(train))
    examples = lines(train)
    assert "2 pairs from db" in stdout  # the question and its one variant; the draft is not approved
    users = [e["messages"][1]["content"] for e in examples]
    assert any("나비 플러스 해지하면 환불돼요?" in u for u in users) and any("Plus 해지 환불" in u for u in users)
    assert all("남은 기간만큼 환불됩니다." in u for u in users)  # the support answer is source 1
    assert json.loads(examples[0]["messages"][2]["content"])["cited_sources"] == [1]
    # The admin action downloads the selected ones, whatever their status.
    response = admin_client.post(
        "/admin/knowledge/curatedanswer/",
        {"action": "export_finetune", "_selected_action": [published.pk, draft.pk]},
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("application/jsonl")
    assert "attachment" in response["Content-Disposition"]
    assert len(response.content.decode().splitlines()) == 3


@pytest.mark.django_db
def test_no_approved_pairs_is_an_error_and_nothing_is_clobbered(tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text("keep me\n")
    with pytest.raises(CommandError, match="No approved question-answer pairs"):
        export("--out", str(train))
    assert train.read_text() == "keep me\n"
    with pytest.raises(CommandError, match="needs --squad"):
        export("--source", "squad", "--out", str(train))
    with pytest.raises(CommandError, match="does not exist"):
        export("--source", "squad", "--squad", str(tmp_path / "missing.json"), "--out", str(train))
    assert train.read_text() == "keep me\n"


@pytest.mark.korquad
@pytest.mark.skipif(not KORQUAD.exists(), reason="needs ../shared/data")
def test_korquad_dev_file_exports(tmp_path: Path) -> None:
    train, val = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    stdout, _ = export("--source", "squad", "--squad", str(KORQUAD), "--out", str(train),
                       "--validation-out", str(val), "--seed", "1")  # fmt: skip
    n_train, n_val = len(lines(train)), len(lines(val))
    assert n_train + n_val > 2000 and abs(n_val - (n_train + n_val) * 0.1) <= 1
    assert "training:" in stdout and "validation:" in stdout
