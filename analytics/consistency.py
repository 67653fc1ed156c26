"""
The `stored` clock of the learning record store, and a Consistent-Through that never lies.

The promise (xAPI 1.0.3 Communication §2.1.3): once X-Experience-API-Consistent-Through V has
been served, no statement with `stored` at or before V becomes visible afterwards; a client
that resumes with `since=V` misses nothing. Taking `stored` from the app server's clock
before the write and serving the reader's own "now" breaks it: a batch stamped t0 whose
transaction commits at t2 is invisible to a read at t1 (t0 < t1 < t2), which serves V = t1,
and `since=t1` never returns the batch.

How Frontline keeps it, on PostgreSQL:

1. One clock, the database's. Writers stamp `stored` with clock_timestamp() read inside the
   writing transaction (app servers' clocks disagree with each other and with the reader's).
2. A writer says it is in flight before it stamps. In the same statement as the stamp (no
   round trip of its own), it first reads the clock (c0), then takes a transaction-level
   shared advisory lock whose key carries c0 in milliseconds, then reads the clock again for
   `stored` (>= c0). The lock is a note every session can see at once in pg_locks, although
   nothing is committed; PostgreSQL drops it only after the commit is visible to everyone
   (or at rollback, with the rows). Shared locks on the tag never wait for each other.
3. The reader serves V = least(statement_timestamp(), oldest c0 among the notes) - 1 µs,
   from its own statement, before the statement that reads the page takes its snapshot.

Why that holds, for a writer W whose rows the page's snapshot does not contain: either W's
note was in the lock table when the reader scanned it, so V < c0 <= stored; or W took its
note after that scan (the lock table's partition locks order the two), and W read its stamp
later still, so stored >= the reader's statement_timestamp() > V. Writers that committed
before the page's snapshot are on the page (or come again with since=V: a repeat, not a
loss).

Costs: the INSERT path stamps in its one statement (a CTE); the COPY path, whose rows are
literal values and so need the stamp before the COPY, opens a transaction in its existing
probe round trip (BEGIN in the same simple-protocol message), COPYs, and COMMITs: one cheap
round trip more per batch. A reader pays one small query on pg_locks per GET.

Limits: the database's clock must not step backwards (NTP slews it). A transaction that
holds a note open (a slow batch; a caller's long transaction around record_statement())
holds V back until it ends: V then lags, it never lies. Embedded SQLite has one writer at a
time and no pg_locks: V is the reader's now there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

# pg_advisory_xact_lock_shared(bigint) keys: the tag 1930 (0x78A) in the bits above 42,
# c0's epoch milliseconds below (room until the year 2109). pg_locks shows a bigint key's
# high half as classid (so the tag is classid >> 10) and its low half as objid, objsubid 1.
# The note, then the stamp: OFFSET 0 keeps the subquery (and its lock) evaluated before the
# outer clock_timestamp(); MATERIALIZED evaluates the pair once per statement.
STAMP_CTE = """
    ingest_clock AS MATERIALIZED (
        SELECT clock_timestamp() AS stored
        FROM (
            SELECT pg_advisory_xact_lock_shared(
                (1930::bigint << 42) | floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
            ) OFFSET 0
        ) AS noted
    )
"""
# `stored` as the statement documents show it (Python: isoformat to milliseconds, "Z").
STORED_TEXT_SQL = (
    "to_char(ingest_clock.stored AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
)
# The reader's side (analytics.selectors.statement_consistent_through): the oldest note's c0,
# exactly (milliseconds as an interval, no floating point), or the statement's start.
CONSISTENT_THROUGH_SQL = """
    SELECT least(
        statement_timestamp(),
        timestamptz 'epoch'
            + interval '1 millisecond'
            * min(((l.classid::bigint << 32) | l.objid::bigint) & ((1::bigint << 42) - 1))
    ) - interval '1 microsecond'
    FROM pg_locks l
    WHERE l.locktype = 'advisory'
      AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::bigint >> 10 = 1930
"""


def stored_text(stored: datetime) -> str:
    return stored.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@contextmanager
def stamped_transaction(cursor, *, probe_sql: str, ids: Sequence[uuid.UUID]) -> Iterator[tuple]:
    """
    On an autocommit connection: BEGIN, take the note and the stamp, and run `probe_sql`
    (a boolean expression over `batch(id)`, the batch's ids) in one round trip; yield
    (stored, probe). COMMIT when the block ends, ROLLBACK if it raises.

    The ids are written into the message (the simple protocol that carries BEGIN with it
    takes no parameters): they are UUIDs, whose text is hex digits and dashes only.
    """
    literal = "{" + ",".join(str(uuid.UUID(str(i))) for i in ids) + "}"
    try:
        cursor.execute(
            f"""BEGIN;
            WITH {STAMP_CTE}, batch AS (SELECT unnest('{literal}'::uuid[]) AS id)
            SELECT ingest_clock.stored, ({probe_sql}) FROM ingest_clock"""  # noqa: S608
        )
        cursor.nextset()
        stored, probe = cursor.fetchone()
        yield stored, probe
    except BaseException:
        # Also when the probe itself failed: BEGIN went through, so the session is in an
        # aborted transaction that the connection's next user must not inherit.
        cursor.execute("ROLLBACK")
        raise
    cursor.execute("COMMIT")
