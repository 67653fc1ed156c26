"""
Replies from learners: SMS keywords and answers, Slack answer buttons, the email answer page.
Answers go through assessments' `submit_answer`; anything unclear gets a short clarifying
reply instead of a guessed score.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from assessments.services import AnswerOutcome, submit_answer
from delivery.errors import AnswerLinkInvalidError, AnswerLinkUsedError
from delivery.links import read_answer_token
from delivery.messages import slack_escape
from delivery.models import ConsentRecord, DeliveryTask, TaskKind
from delivery.reminders import learner_resume
from delivery.services import consent_change_for_address
from learners.models import Learner

# Twilio's default keywords (Advanced Opt-Out, "Twilio support for opt-out keywords"):
# Twilio acts on these itself when the whole message is the keyword, case-insensitive, so
# we read them the same way and our consent never disagrees with Twilio's.
STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"}
START_WORDS = {"start", "yes", "unstop"}
HELP_WORDS = {"help", "info"}
RESUME_WORDS = {"resume"}

HELP_TEXT = (
    "Frontline daily lessons: reply with the number of your answer (1-4). "
    "Reply STOP to stop texts, START to restart, RESUME to resume paused lessons."
)


def keyword(text: str) -> str:
    """The message as a keyword: the whole body, trimmed and case-folded (Twilio's match)."""
    return unicodedata.normalize("NFKC", text or "").strip().casefold()


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def parse_answer(text: str, options: list[str]) -> int | None:
    """The option index `text` means ("2", "b", "B)", " 2.", or the option's text), or None."""
    raw = (text or "").strip()
    match = re.fullmatch(r"[\(\[]?\s*([0-9]{1,2})\s*[\)\]\.:]?", raw)
    if match:
        index = int(match.group(1)) - 1
        return index if 0 <= index < len(options) else None
    match = re.fullmatch(r"[\(\[]?\s*([a-zA-Z])\s*[\)\]\.:]?", raw)
    if match:
        index = ord(match.group(1).lower()) - ord("a")
        return index if 0 <= index < len(options) else None
    # "2. The receipt", "b) the weather": a marker and the option's text must agree.
    match = re.fullmatch(r"[\(\[]?\s*([0-9]|[a-zA-Z])\s*[\)\]\.:\-]\s*(.+)", raw)
    if match:
        marker, rest = match.groups()
        by_marker = parse_answer(marker, options)
        by_text = parse_answer(rest, options)
        if by_marker is not None and by_marker == by_text:
            return by_marker
    wanted = _normalise(raw)
    if not wanted:
        return None
    hits = [i for i, option in enumerate(options) if _normalise(option) == wanted]
    return hits[0] if len(hits) == 1 else None


def outcome_text(outcome: AnswerOutcome, options: list[str]) -> str:
    if not outcome.counted:
        verdict = "You had already answered this one, so this answer is not scored."
    elif outcome.is_correct:
        verdict = "Correct!"
    else:
        right = options[outcome.correct_answer]
        verdict = f"Not quite: the answer is {outcome.correct_answer + 1}. {right}."
    return f"{verdict} {outcome.explanation}".strip()


def _latest_open_lesson(learner: Learner) -> DeliveryTask | None:
    return (
        DeliveryTask.objects.filter(
            learner=learner,
            kind=TaskKind.LESSON,
            microlesson__isnull=False,
            accepted_at__isnull=False,
        )
        .select_related("microlesson")
        .order_by("-accepted_at", "-id")
        .first()
    )


@dataclass(frozen=True)
class InboundResult:
    reply: str
    outcome: str
    learner: Learner | None = None
    task: DeliveryTask | None = None


def sms_inbound(*, from_number: str, body: str) -> InboundResult:
    """Handle an SMS a learner sent us: a keyword or an answer to their latest quiz."""
    learner = Learner.objects.filter(phone=from_number).first()
    if learner is None:
        return InboundResult("This number is not registered with Frontline.", "unknown_number")
    word = keyword(body)
    if word in STOP_WORDS:
        consent_change_for_address(
            channel="sms",
            address=from_number,
            opted_out=True,
            method=ConsentRecord.Method.KEYWORD,
            message=body,
        )
        return InboundResult(
            "You will get no more Frontline texts. Reply START to opt back in.",
            "opted_out",
            learner,
        )
    if word in START_WORDS:
        consent_change_for_address(
            channel="sms",
            address=from_number,
            opted_out=False,
            method=ConsentRecord.Method.KEYWORD,
            message=body,
        )
        return InboundResult("Welcome back: Frontline texts are on again.", "opted_in", learner)
    if word in HELP_WORDS:
        return InboundResult(HELP_TEXT, "help", learner)
    if word in RESUME_WORDS:
        resumed = learner_resume(learner=learner, how="sms keyword")
        text = "Your daily lessons are back on." if resumed else "Your lessons are not paused."
        return InboundResult(text, "resumed" if resumed else "not_paused", learner)
    task = _latest_open_lesson(learner)
    if task is None:
        return InboundResult("There is no quiz waiting for you right now.", "no_quiz", learner)
    options = list(task.microlesson.quiz_options)
    index = parse_answer(body, options)
    if index is None:
        return InboundResult(
            f"Sorry, we could not read that. Reply with a number from 1 to {len(options)}.",
            "unclear",
            learner,
            task,
        )
    outcome = submit_answer(
        learner=learner, microlesson=task.microlesson, answer=index, channel="sms"
    )
    return InboundResult(outcome_text(outcome, options), "answered", learner, task)


@dataclass(frozen=True)
class SlackUpdate:
    """The answered message to replace in Slack (done by a task, after the ack)."""

    channel_id: str
    ts: str
    text: str


def slack_answer(*, payload: dict) -> tuple[InboundResult, SlackUpdate | None]:
    """An answer button pressed in Slack: score it, and say which message to replace with
    the result. The replacement is not made here: Slack wants its answer within 3 seconds,
    and a failed chat.update must not undo (or hide) the stored answer."""
    try:
        action = payload["actions"][0]
        task_id, index = (int(part) for part in str(action["value"]).split(":", 1))
        user_id = payload["user"]["id"]
    except (KeyError, IndexError, TypeError, ValueError):
        return InboundResult("", "malformed"), None
    task = (
        DeliveryTask.objects.select_related("learner", "microlesson")
        .filter(pk=task_id, kind=TaskKind.LESSON, microlesson__isnull=False)
        .first()
    )
    if task is None:
        return InboundResult("", "unknown_task"), None
    if task.learner.slack_user_id != user_id:
        return InboundResult("", "wrong_user", task.learner, task), None
    options = list(task.microlesson.quiz_options)
    if not 0 <= index < len(options):
        return InboundResult("", "malformed", task.learner, task), None
    outcome = submit_answer(
        learner=task.learner, microlesson=task.microlesson, answer=index, channel="slack"
    )
    verdict = outcome_text(outcome, options)
    text = (
        f"*{slack_escape(task.microlesson.title)}*\nYou answered: {slack_escape(options[index])}"
        f"\n{slack_escape(verdict)}"
    )
    container = payload.get("container") or {}
    channel_id = container.get("channel_id") or (payload.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (payload.get("message") or {}).get("ts")
    update = SlackUpdate(channel_id, ts, text) if channel_id and ts else None
    return InboundResult(text, "answered", task.learner, task), update


def answer_page_task(*, token: str) -> DeliveryTask:
    """The task an answer link is for, if the link is valid, unexpired and unused."""
    task_id, learner_id = read_answer_token(token)
    task = (
        DeliveryTask.objects.select_related("learner", "microlesson")
        .filter(pk=task_id, learner_id=learner_id, microlesson__isnull=False)
        .first()
    )
    if task is None:
        raise AnswerLinkInvalidError()
    if task.answer_link_used_at is not None:
        raise AnswerLinkUsedError()
    return task


def answer_page_save_topic(*, token: str) -> tuple[DeliveryTask, bool]:
    """Save the lesson's topic for later for the learner an answer link was sent to.

    The link proves who it was sent to until it expires, whether or not it has been used to
    answer: saving changes nothing the answer depends on, and saving twice saves once.
    Returns the task and whether the topic was newly saved.
    """
    from lessons.recommendations.services import saved_topic_add

    task_id, learner_id = read_answer_token(token)
    task = (
        DeliveryTask.objects.select_related("learner", "microlesson__topic")
        .filter(pk=task_id, learner_id=learner_id, microlesson__isnull=False)
        .first()
    )
    if task is None:
        raise AnswerLinkInvalidError()
    _saved, created = saved_topic_add(learner=task.learner, topic=task.microlesson.topic)
    return task, created


@transaction.atomic
def answer_page_submit(*, token: str, answer: int) -> tuple[DeliveryTask, AnswerOutcome]:
    """Answer through an emailed link; the link is spent in the same transaction."""
    task = answer_page_task(token=token)
    task = (
        DeliveryTask.objects.select_for_update(of=("self",))
        .select_related("learner", "microlesson")
        .get(pk=task.pk)
    )
    if task.answer_link_used_at is not None:
        raise AnswerLinkUsedError()
    outcome = submit_answer(
        learner=task.learner, microlesson=task.microlesson, answer=answer, channel="email"
    )
    task.answer_link_used_at = timezone.now()
    task.save(update_fields=["answer_link_used_at", "updated_at"])
    return task, outcome
