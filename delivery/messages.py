"""What a task says on each channel: Slack blocks with answer buttons, numbered SMS, email."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string

from delivery.channels import SMS_MAX_LENGTH, OutboundMessage
from delivery.links import answer_url
from delivery.models import DeliveryTask, TaskKind

OPTION_LETTERS = "ABCD"


def _status_callback() -> str:
    return f"{settings.DELIVERY_PUBLIC_BASE_URL.rstrip('/')}/webhooks/twilio/status"


def render(task: DeliveryTask, channel: str) -> OutboundMessage:
    if task.kind == TaskKind.LESSON:
        return _lesson(task, channel)
    return _notice(task, channel)


def _lesson(task: DeliveryTask, channel: str) -> OutboundMessage:
    lesson = task.microlesson
    options = list(lesson.quiz_options)
    key = f"delivery-task-{task.pk}"
    if channel == "slack":
        body = f"*{lesson.title}*\n\n{lesson.content}"
        if lesson.key_points:
            body += "\n\n*Key points*\n" + "\n".join(f"• {p}" for p in lesson.key_points)
        if lesson.scenario:
            body += f"\n\n*Scenario*\n{lesson.scenario}"
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Quiz*: {lesson.quiz_question}"},
            },
            {
                "type": "actions",
                "block_id": f"answer-{task.pk}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": f"answer_{index}",
                        "text": {"type": "plain_text", "text": option[:75]},
                        "value": f"{task.pk}:{index}",
                    }
                    for index, option in enumerate(options)
                ],
            },
        ]
        return OutboundMessage(
            text=f"{lesson.title}: {lesson.quiz_question}", blocks=blocks, idempotency_key=key
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
            text=head + tail, status_callback=_status_callback(), idempotency_key=key
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


def _notice(task: DeliveryTask, channel: str) -> OutboundMessage:
    text = task.render_context.get("text", "")
    subject = task.render_context.get("subject", "Frontline")
    return OutboundMessage(
        text=text,
        subject=subject,
        html="",
        status_callback=_status_callback() if channel == "sms" else "",
        idempotency_key=f"delivery-task-{task.pk}",
    )
