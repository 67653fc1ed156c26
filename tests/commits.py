"""Run a block's after-commit callbacks the way a real commit would, inside a test transaction."""

from contextlib import contextmanager

from django.db import transaction


@contextmanager
def committed(capture):
    """`with committed(django_capture_on_commit_callbacks): ...` runs the block's callbacks,
    then forgets them, as a real commit does.

    pytest-django's capture runs the callbacks but leaves them on the connection, so a later
    `publish_event` in the same test sees the outbox publisher kick still pending and does
    not queue another: the second event would never be published.
    """
    connection = transaction.get_connection()
    start = len(connection.run_on_commit)
    with capture(execute=True) as callbacks:
        yield callbacks
    del connection.run_on_commit[start:]
