"""Thin Celery entry points for returns."""

from __future__ import annotations

import logging

from celery import shared_task

from core.jobs import tracked_job
from delivery.channels import ChannelError

logger = logging.getLogger(__name__)


@shared_task(
    name="returns.send_status_email",
    autoretry_for=(ChannelError,),  # only temporary ones reach the task
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def return_status_email_send_task(return_id: int, status: str) -> bool:
    from returns.notifications import send_return_status_email

    return send_return_status_email(return_id=return_id, status=status)


@shared_task(
    name="returns.send_customer_access_link",
    autoretry_for=(ChannelError,),  # only temporary ones reach the task
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def customer_access_link_send_task(link_id: int) -> bool:
    from returns.notifications import send_customer_access_link_email

    return send_customer_access_link_email(link_id=link_id)


@shared_task(name="returns.retry_refunds")
@tracked_job("returns.retry_refunds")
def return_refunds_retry_task(run) -> None:
    from returns.services import ReturnsService

    outcome = ReturnsService().retry_refunds()
    run.set("attempted", outcome.attempted)
    run.set("completed", outcome.completed)
    run.set("failed", outcome.failed)
