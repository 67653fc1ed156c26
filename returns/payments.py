"""
Client for the payments service's refund endpoint.

    POST {PAYMENTS_API_URL}/refunds   Idempotency-Key: return-<id>
    {"payment_reference", "amount", "currency", "reference", "metadata"}
    -> 200/201 {"id": "...", "status": "succeeded"}

The idempotency key is the return's, so a retry after a timeout, or after a crash between
the payments service accepting and our commit, gets back the refund it already made.
Timeouts, connection errors and 5xx/429 are retried with core's policy; other 4xx are the
service refusing the refund and are not retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings

from core.resilience import RetryableError, retry_policy


class PaymentsError(Exception):
    pass


class PaymentsUnavailableError(PaymentsError):
    """Transient: the service could not be reached or failed; try again later."""


class PaymentsRejectedError(PaymentsError):
    """Permanent: the service refused this refund (e.g. the payment cannot be refunded)."""

    def __init__(self, message: str, *, status: int, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


class _Transient(RetryableError):
    pass


@dataclass(frozen=True)
class PaymentRefund:
    refund_id: str
    status: str


class PaymentsClient:
    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        attempts: int | None = None,
        backoff_initial: float | None = None,
        session: requests.Session | None = None,
    ):
        self.base_url = (base_url or settings.PAYMENTS_API_URL or "").rstrip("/")
        self.api_key = api_key if api_key is not None else settings.PAYMENTS_API_KEY
        self.timeout = timeout or settings.RETURNS_PAYMENTS_TIMEOUT_SECONDS
        self.attempts = attempts or settings.RETURNS_PAYMENTS_RETRY_ATTEMPTS
        self.backoff_initial = (
            backoff_initial
            if backoff_initial is not None
            else settings.RETURNS_PAYMENTS_RETRY_INITIAL_SECONDS
        )
        self.session = session or requests.Session()

    def refund(
        self,
        *,
        payment_reference: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        reference: str,
        metadata: dict[str, Any] | None = None,
    ) -> PaymentRefund:
        if not self.base_url:
            raise PaymentsUnavailableError("PAYMENTS_API_URL is not configured.")
        body = {
            "payment_reference": payment_reference,
            "amount": str(amount),
            "currency": currency,
            "reference": reference,
            "metadata": metadata or {},
        }
        headers = {"Idempotency-Key": idempotency_key, "Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            for attempt in retry_policy(
                attempts=self.attempts, initial=self.backoff_initial, maximum=30.0
            ):
                with attempt:
                    return self._post(body, headers)
        except _Transient as exc:
            raise PaymentsUnavailableError(str(exc)) from exc
        raise PaymentsUnavailableError("no attempt made")  # pragma: no cover

    def _post(self, body: dict, headers: dict) -> PaymentRefund:
        try:
            response = self.session.post(
                f"{self.base_url}/refunds", json=body, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise _Transient(f"payments unreachable: {type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            raise _Transient(
                f"payments answered {response.status_code}",
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        try:
            data = response.json()
        except ValueError:
            data = {"raw": response.text[:500]}
        if response.status_code >= 400:
            message = data.get("message") or data.get("error") or f"HTTP {response.status_code}"
            raise PaymentsRejectedError(str(message), status=response.status_code, body=data)
        refund_id = str(data.get("id") or "")
        if not refund_id:
            raise _Transient("payments answered without a refund id")
        return PaymentRefund(refund_id=refund_id, status=str(data.get("status", "succeeded")))
