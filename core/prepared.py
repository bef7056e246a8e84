"""Server-side prepared statements for the few queries every device sends all day.

Planning a join of four tables with data-modifying CTEs costs PostgreSQL more than running
it (0.7 ms against 0.2 ms, measured on the Idle statement). ``PREPARE`` once per database
connection lets PostgreSQL cache the plan; later requests execute it. Django keeps
connections open (``CONN_MAX_AGE``), so that is once per worker and minute. Behind a pooler in
transaction mode, prepared statements do not survive: use session mode there.

In autocommit mode (every request outside ``transaction.atomic``) the statement goes straight
to libpq (``PQexecPrepared``, binary results): psycopg's cursor and Django's wrapper around it
cost twice what libpq does for a one-row answer, and an Idle is little more than that answer.
Errors are still Django's (``wrap_database_errors``) and, when queries are logged (DEBUG,
``CaptureQueriesContext``), the statement is logged. Inside a transaction, or when execute
wrappers are installed, it goes through Django's cursor, which also starts the transaction.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import errors, pq

# Binary-format decoders for the result column types a prepared statement may declare.
_DECODERS: dict[str, Callable[[bytes], object]] = {
    "bool": lambda value: value == b"\x01",
    "bytea": bytes,
    "int8": lambda value: int.from_bytes(value, "big", signed=True),
    "text": bytes.decode,
}


@dataclass(frozen=True)
class PreparedStatement:
    """``sql`` uses $1, $2... for the parameters whose PostgreSQL types ``types`` lists;
    ``columns`` lists the types of the result columns (keys of ``_DECODERS``)."""

    name: str
    sql: str
    types: tuple[str, ...]
    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = set(self.columns) - set(_DECODERS)
        if unknown:
            raise ValueError(f"no binary decoder for column types {sorted(unknown)}")
        # What every execution needs, computed once.
        object.__setattr__(self, "_name", self.name.encode())
        object.__setattr__(self, "_decoders", tuple(_DECODERS[kind] for kind in self.columns))
        object.__setattr__(self, "_indexes", tuple(range(len(self.columns))))
        object.__setattr__(self, "_zeros", (0,) * len(self.columns))

    def fetchone(self, params: Sequence[int | str]) -> tuple | None:
        """Run it on the default connection (PostgreSQL), preparing it first on a connection
        that has not seen it; the first row as Python values, or None."""
        db = connections[DEFAULT_DB_ALIAS]  # one lookup: each goes through a thread-local
        if not db.get_autocommit() or db.execute_wrappers:
            return self._fetchone_by_cursor(db, params)
        started = time.monotonic()
        with db.wrap_database_errors:
            raw = db.connection
            self._prepare(raw)
            result = raw.pgconn.exec_prepared(self._name, [str(p).encode() for p in params],
                                              result_format=pq.Format.BINARY)
            if result.status != pq.ExecStatus.TUPLES_OK:
                raise errors.error_from_result(result, encoding=raw.info.encoding)
            row = None
            if result.ntuples:
                row = tuple(None if value is None else decode(value)
                            for value, decode in zip(map(result.get_value, self._zeros,
                                                         self._indexes),
                                                     self._decoders, strict=True))
        if db.queries_logged:
            db.queries_log.append({"sql": f"EXECUTE {self.name} {tuple(params)!r}",
                                   "time": f"{time.monotonic() - started:.3f}"})
        return row

    def _fetchone_by_cursor(self, db, params: Sequence[int | str]) -> tuple | None:
        with db.cursor() as cursor:
            self._prepare(db.connection)
            placeholders = ", ".join(["%s"] * len(self.types))
            cursor.execute(f"EXECUTE {self.name} ({placeholders})", list(params))
            return cursor.fetchone()

    def _prepare(self, raw) -> None:
        prepared = _PREPARED.setdefault(self.name, weakref.WeakSet())
        if raw in prepared:
            return
        with raw.cursor() as cursor:
            cursor.execute(f"PREPARE {self.name} ({', '.join(self.types)}) AS {self.sql}")
        prepared.add(raw)


# Statement name -> the raw connections it is prepared on (a new connection is a new entry).
_PREPARED: dict[str, weakref.WeakSet] = {}
