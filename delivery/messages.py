"""What a task says on each channel: Slack blocks with answer buttons, numbered SMS, email.

Every message tells the learner a way to answer that its channel really reads: Slack the
buttons, SMS a numbered reply, email the one-time answer link. Text we did not write
ourselves (lesson content, learner names) goes into Slack escaped, so that `<!channel>`
or `<https://evil|a harmless label>` in it is shown, not obeyed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.template.loader import render_to_string

from delivery.channels import SMS_MAX_LENGTH, OutboundMessage
from delivery.links import answer_url
from delivery.models import DeliveryTask, TaskKind

if TYPE_CHECKING:
    from delivery.models import DeliveryAttempt

OPTION_LETTERS = "ABCD"


def slack_escape(text: str) -> str:
    """Slack's mrkdwn control characters as entities (api.slack.com "Formatting text":
    escape &, < and > and nothing else), so mentions and links in the text are inert."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _status_callback(attempt: DeliveryAttempt | None = None) -> str:
    """Twilio's status callback URL; it names the attempt, so a report that comes before
    our commit of the send can be matched (and is kept until then)."""
    url = f"{settings.DELIVERY_PUBLIC_BASE_URL.rstrip('/')}/webhooks/twilio/status"
    return f"{url}?attempt={attempt.pk}" if attempt is not None else url


def render(
    task: DeliveryTask, channel: str, *, attempt: DeliveryAttempt | None = None
) -> OutboundMessage:
    if task.kind == TaskKind.LESSON:
        return _lesson(task, channel, attempt)
    if task.kind == TaskKind.REMINDER and task.render_context.get("lesson_task_id"):
        return _reminder(task, channel, attempt)
    return _notice(task, channel, attempt)


def answer_buttons(lesson_task_id: int, options: list[str]) -> dict:
    """The actions block whose buttons answer the quiz of lesson task `lesson_task_id`."""
    return {
        "type": "actions",
        "block_id": f"answer-{lesson_task_id}",
        "elements": [
            {
                "type": "button",
                "action_id": f"answer_{index}",
                "text": {"type": "plain_text", "text": option[:75]},
                "value": f"{lesson_task_id}:{index}",
            }
            for index, option in enumerate(options)
        ],
    }


def _lesson(task: DeliveryTask, channel: str, attempt) -> OutboundMessage:
    lesson = task.microlesson
    options = list(lesson.quiz_options)
    key = f"delivery-task-{task.pk}"
    if channel == "slack":
        body = f"*{slack_escape(lesson.title)}*\n\n{slack_escape(lesson.content)}"
        if lesson.key_points:
            body += "\n\n*Key points*\n" + "\n".join(
                f"• {slack_escape(p)}" for p in lesson.key_points
            )
        if lesson.scenario:
            body += f"\n\n*Scenario*\n{slack_escape(lesson.scenario)}"
        quiz = f"*Quiz*: {slack_escape(lesson.quiz_question)}\nAnswer with one of the buttons."
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": quiz[:2900]}},
            answer_buttons(task.pk, options),
        ]
        return OutboundMessage(
            text=slack_escape(f"{lesson.title}: {lesson.quiz_question}"),
            blocks=blocks,
            idempotency_key=key,
        )
    if channel == "sms":
        question = lesson.quiz_question
        numbered = "\n".join(f"{i + 1}. {option}" for i, option in enumerate(options))
        tail = f"\n\n{question}\n{numbered}\nReply 1-{len(options)}"
        head = f"{lesson.title}\n{lesson.content}"
        room = SMS_MAX_LENGTH - len(tail)
        if len(head) > room:
            head = head[: max(room - 1, 0)] + "…"
        return OutboundMessage(
            text=head + tail, status_callback=_status_callback(attempt), idempotency_key=key
        )
    context = {
        "task": task,
        "lesson": lesson,
        "options": list(zip(OPTION_LETTERS, options, strict=False)),
        "answer_url": answer_url(task_id=task.pk, learner_id=task.learner_id),
        "learner": task.learner,
    }
    return OutboundMessage(
        subject=f"Your daily lesson: {lesson.title}",
        text=render_to_string("delivery/email/lesson.txt", context),
        html=render_to_string("delivery/email/lesson.html", context),
        payload={"task_id": task.pk, "lesson": lesson.title},
        idempotency_key=key,
    )


def _reminder(task: DeliveryTask, channel: str, attempt) -> OutboundMessage:
    """A reminder of an unanswered lesson, answerable the way its channel is read."""
    context = task.render_context
    lesson_task_id = int(context["lesson_task_id"])
    options = list(context.get("options") or [])
    title = context.get("title", "")
    intro = (
        f"Reminder {context.get('sequence', task.sequence)} of "
        f"{context.get('of', settings.DELIVERY_REMINDER_MAX)}: today's lesson "
        f'"{title}" is waiting for your answer.'
    )
    key = f"delivery-task-{task.pk}"
    subject = context.get("subject", "Frontline")
    if channel == "slack":
        question = slack_escape(context.get("question", ""))
        text = f"{slack_escape(intro)}\n*Quiz*: {question}\nAnswer with one of the buttons."
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}]
        if options:
            blocks.append(answer_buttons(lesson_task_id, options))
        return OutboundMessage(text=slack_escape(intro), blocks=blocks, idempotency_key=key)
    if channel == "sms":
        return OutboundMessage(
            text=f"{intro} Reply 1-{len(options)}." if options else intro,
            status_callback=_status_callback(attempt),
            idempotency_key=key,
        )
    link = answer_url(task_id=lesson_task_id, learner_id=task.learner_id)
    return OutboundMessage(
        text=f"{intro} Answer here (the link works once): {link}",
        subject=subject,
        idempotency_key=key,
    )


def _notice(task: DeliveryTask, channel: str, attempt) -> OutboundMessage:
    text = task.render_context.get("text", "")
    subject = task.render_context.get("subject", "Frontline")
    return OutboundMessage(
        text=slack_escape(text) if channel == "slack" else text,
        subject=subject,
        html="",
        status_callback=_status_callback(attempt) if channel == "sms" else "",
        idempotency_key=f"delivery-task-{task.pk}",
    )
