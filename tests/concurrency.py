"""Real threads for concurrency tests: each job gets its own database connection."""

import threading

from django.db import connections


def run_in_threads(*jobs, timeout=120):
    """Start every job at the same instant (a barrier); return (results, errors) in order.

    Each thread closes its connections when its job ends; a thread still running after
    `timeout` seconds fails the test (a deadlock, most likely).
    """
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)
    errors = [None] * len(jobs)

    def runner(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except BaseException as exc:  # collected and asserted by the test
            errors[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results, errors
