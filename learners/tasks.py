"""Thin Celery entry points for learners."""

from __future__ import annotations

from celery import shared_task

from delivery.channels import ChannelError


@shared_task(
    name="learners.send_verification_code",
    autoretry_for=(ChannelError,),  # only temporary ones reach the task
    retry_backoff=True,
    max_retries=3,
    ignore_result=True,
)
def learner_verification_send_task(verification_id: int) -> bool:
    from learners.notifications import verification_code_send

    return verification_code_send(verification_id=verification_id)
