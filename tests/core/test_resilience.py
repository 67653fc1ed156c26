import contextlib
import multiprocessing
import time

import pytest
from django.core.cache import cache

from core.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    RateLimiter,
    RateLimitExceeded,
    RetryableError,
    circuit_breakers,
    retry_policy,
)


class FakeClock:
    def __init__(self, now: float = 1_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _fail():
    raise ConnectionError("down")


# --- circuit breaker ---------------------------------------------------------------------


def test_breaker_opens_after_the_configured_failures():
    breaker = CircuitBreaker("test-open", minimum_calls=3, reset_timeout=30, clock=FakeClock())
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(_fail)
    assert breaker.state == CircuitBreaker.CLOSED  # too few calls to judge
    with pytest.raises(ConnectionError):
        breaker.call(_fail)
    assert breaker.state == CircuitBreaker.OPEN

    calls = []
    with pytest.raises(CircuitOpenError) as excinfo:
        breaker.call(lambda: calls.append(1))
    assert calls == []  # an open circuit does not call the dependency
    assert excinfo.value.extra["retry_after"] == 30


def test_successes_in_the_window_keep_the_failure_rate_under_the_threshold():
    # seed 000: open at 50% failures over 60 s once at least 5 calls were made
    breaker = CircuitBreaker("test-rate", failure_rate=0.5, minimum_calls=5, clock=FakeClock())
    for outcome in ["fail", "ok", "ok", "fail", "ok", "ok"]:  # 2 of 6 failed
        if outcome == "ok":
            breaker.call(lambda: "ok")
        else:
            with pytest.raises(ConnectionError):
                breaker.call(_fail)
    assert breaker.state == CircuitBreaker.CLOSED
    for _ in range(2):  # 4 of 8: the rate reaches 50%
        with pytest.raises(ConnectionError):
            breaker.call(_fail)
    assert breaker.state == CircuitBreaker.OPEN


def test_failures_older_than_the_window_are_forgotten():
    clock = FakeClock()
    breaker = CircuitBreaker("test-window", minimum_calls=5, window=60, clock=clock)
    for _ in range(4):
        breaker.record_failure()
    clock.now += 61
    breaker.record_failure()  # five failures, but only one in the last minute
    assert breaker.state == CircuitBreaker.CLOSED
    assert breaker.window_counts() == (1, 1)


def test_the_window_policy_holds_on_a_local_memory_cache_too():
    # the embedded mode has no Redis: the same policy through Django's generic cache API
    from django.core.cache.backends.locmem import LocMemCache

    clock = FakeClock()
    local = LocMemCache("breaker-test", {})
    breaker = CircuitBreaker("test-local", minimum_calls=4, clock=clock, cache=local)
    for outcome in ["ok", "fail", "ok", "fail"]:
        breaker.record_success() if outcome == "ok" else breaker.record_failure()
    assert breaker.window_counts() == (4, 2)
    assert breaker.state == CircuitBreaker.OPEN
    clock.now += 30
    breaker.record_success()  # the half-open trial
    assert breaker.state == CircuitBreaker.CLOSED
    assert breaker.window_counts() == (0, 0)


def test_breaker_half_opens_after_its_window_and_closes_on_success():
    clock = FakeClock()
    breaker = CircuitBreaker("test-half", minimum_calls=1, reset_timeout=10, clock=clock)
    with pytest.raises(ConnectionError):
        breaker.call(_fail)
    clock.now += 9.9
    assert breaker.state == CircuitBreaker.OPEN
    clock.now += 0.2
    assert breaker.state == CircuitBreaker.HALF_OPEN
    assert breaker.call(lambda: "recovered") == "recovered"
    assert breaker.state == CircuitBreaker.CLOSED


def test_half_open_lets_one_trial_through_and_a_failed_trial_reopens():
    clock = FakeClock()
    breaker = CircuitBreaker("test-trial", minimum_calls=1, reset_timeout=10, clock=clock)
    with pytest.raises(ConnectionError):
        breaker.call(_fail)
    clock.now += 10
    assert breaker.allow() is True  # the trial
    assert breaker.allow() is False  # everyone else waits for its outcome
    breaker.record_failure()
    assert breaker.state == CircuitBreaker.OPEN
    assert breaker.retry_after() == pytest.approx(10)


def test_unexpected_exceptions_do_not_count_as_failures():
    breaker = CircuitBreaker(
        "test-expected",
        minimum_calls=1,
        expected_exceptions=(ConnectionError,),
        clock=FakeClock(),
    )
    with pytest.raises(KeyError):
        breaker.call(lambda: {}["missing"])
    assert breaker.state == CircuitBreaker.CLOSED


def test_breakers_are_listed_by_name():
    breaker = CircuitBreaker("test-registry")
    assert circuit_breakers()["test-registry"] is breaker


def _open_breaker_in_child(name):
    from django.db import connections

    connections.close_all()
    breaker = CircuitBreaker(name, minimum_calls=2, reset_timeout=60)
    for _ in range(2):
        with contextlib.suppress(ConnectionError):
            breaker.call(_fail)


def test_breaker_state_is_shared_across_processes(redis_client):
    # given: another process trips the breaker
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_open_breaker_in_child, args=("test-shared",))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0
    # then: this process sees it open, through the shared cache (Redis)
    breaker = CircuitBreaker("test-shared", minimum_calls=2, reset_timeout=60)
    assert breaker.state == CircuitBreaker.OPEN
    assert cache.get("circuit:test-shared:opened_at") is not None


# --- retry policy ------------------------------------------------------------------------


def test_retry_policy_retries_transient_errors_then_succeeds():
    sleeps, attempts = [], []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise RetryableError("503")
        return "done"

    result = retry_policy(attempts=3, initial=0.5, maximum=10, sleep=sleeps.append)(flaky)
    assert result == "done"
    assert len(attempts) == 3
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0  # initial plus jitter
    assert 1.0 <= sleeps[1] <= 1.5  # doubled plus jitter


def test_retry_policy_gives_up_after_its_attempts_and_reraises():
    sleeps, attempts = [], []

    def down():
        attempts.append(1)
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        retry_policy(attempts=4, sleep=sleeps.append)(down)
    assert len(attempts) == 4
    assert len(sleeps) == 3


def test_retry_policy_honours_retry_after():
    sleeps = []
    attempts = []

    def limited():
        attempts.append(1)
        if len(attempts) == 1:
            raise RetryableError("429", retry_after=7)
        return "ok"

    assert retry_policy(attempts=2, maximum=30, sleep=sleeps.append)(limited) == "ok"
    assert sleeps == [7.0]


def test_retry_policy_does_not_retry_permanent_errors():
    attempts = []

    def bad_request():
        attempts.append(1)
        raise ValueError("invalid payload")

    with pytest.raises(ValueError):
        retry_policy(attempts=5, sleep=lambda s: None)(bad_request)
    assert attempts == [1]


# --- rate limiter ------------------------------------------------------------------------


def test_rate_limiter_refuses_beyond_its_burst_and_says_how_long_to_wait(redis_client):
    limiter = RateLimiter("test-burst", rate=2, per=1.0, burst=2)
    assert limiter.try_acquire("k")[0] is True
    assert limiter.try_acquire("k")[0] is True
    allowed, wait = limiter.try_acquire("k")
    assert allowed is False
    assert 0.3 < wait <= 0.5
    # keys are independent
    assert limiter.try_acquire("other")[0] is True


def test_rate_limiter_acquire_with_timeout_raises_when_the_wait_is_too_long(redis_client):
    limiter = RateLimiter("test-timeout", rate=1, per=10.0)
    limiter.acquire()
    with pytest.raises(RateLimitExceeded):
        limiter.acquire(timeout=0.1)


def _take_slots(name, rate, count, queue):
    from django.db import connections

    connections.close_all()
    limiter = RateLimiter(name, rate=rate, per=1.0, burst=1)
    import os

    for _ in range(count):
        limiter.acquire()
        queue.put((os.getpid(), time.time()))


def test_rate_limiter_holds_its_rate_across_two_processes(redis_client):
    # given: two processes each wanting 12 slots of a 20/s limiter
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    rate, per_process = 20, 12
    procs = [
        ctx.Process(target=_take_slots, args=("test-shared-rate", rate, per_process, queue))
        for _ in range(2)
    ]
    # when
    for p in procs:
        p.start()
    grants = [queue.get(timeout=30) for _ in range(2 * per_process)]
    for p in procs:
        p.join(timeout=30)
    # then: both got slots, and together they never beat the shared rate
    assert {pid for pid, _ in grants} == {p.pid for p in procs}
    times = sorted(t for _, t in grants)
    span = times[-1] - times[0]
    # 24 grants at 20/s need at least 23 emission intervals (1.15 s); allow 10% clock jitter.
    assert span >= (len(times) - 1) / rate * 0.9
    # No half-second window holds more than half a second's worth (+1 for the window edge).
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t - start < 0.5)
        assert in_window <= rate * 0.5 + 1
