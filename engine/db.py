"""Database engine and sessions; the write session that serializes all changes to one case."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Table, bindparam, create_engine, event, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from .errors import Busy, Unavailable

_QUEUED, _QUEUED_LAST, _ROWS = "bianmin_queued_writes", "bianmin_queued_last", "bianmin_queued_rows"
# Ids are PostgreSQL `integer` columns: a larger number names no row, and must not reach the database.
MAX_ROW_ID = 2**31 - 1
# PostgreSQL's lock_not_available (lock_timeout) and query_canceled (statement_timeout).
_BUSY_STATES = {"55P03", "57014"}
# PostgreSQL's connection_exception class and the shutdown states a restarting server sends.
_GONE_CLASS, _GONE_STATES = "08", {"57P01", "57P02", "57P03"}
# SQLite's answers when busy_timeout ran out while another connection held the lock.
_BUSY_MESSAGES = ("database is locked", "database table is locked")
# With the lock timeout off (0) an SQLite writer still gives up some time; a day is as good as never.
_SQLITE_NO_TIMEOUT = 86400


class Database:
    """One per process: an engine plus two session factories.

    `read()` sessions begin normally. `write()` sessions on SQLite start with BEGIN IMMEDIATE so
    the writer holds the database write lock before it reads the case it will change; on
    PostgreSQL the runtime takes a row lock (SELECT ... FOR UPDATE) on the case instead.
    A write session's connection stays checked out until its transaction has ended.
    """

    def __init__(self, url: str, *, echo: bool = False, lock_timeout: int = 10, statement_timeout: int = 30) -> None:
        """`lock_timeout` and `statement_timeout` in seconds, 0 for none; SQLite has only the first."""
        self.url = url
        kwargs: dict = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            busy = lock_timeout or _SQLITE_NO_TIMEOUT
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy}
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_recycle=1800, connect_args={
                "options": f"-c lock_timeout={lock_timeout * 1000} -c statement_timeout={statement_timeout * 1000}"})
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy * 1000)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = self.engine.execution_options(begin_immediate=True)
        # Writers flush once, at commit: the runtime never reads back what it has just written.
        self._writer = sessionmaker(expire_on_commit=False, autoflush=False)
        # Handed to every write session's `info`: what the process configured for the transactions it runs
        # (engine/outbox/outbound.py: where messages may go out).
        self.session_info: dict[str, Any] = {}

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; waiting too long for the database raises Busy."""
        with _busy_refused(), self._reader() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any exception.

        At commit the ORM flushes, then the statements queued with `queue_write` run in order; on
        PostgreSQL those and the COMMIT travel together in one pipelined round trip. A lock or statement
        timeout raises Busy, after the rollback.
        """
        with _busy_refused(), self._write_engine.connect() as connection:
            transaction = connection.begin()
            session = self._writer(bind=connection, info=dict(self.session_info))
            try:
                yield session
                session.flush()
                queued = session.info.pop(_QUEUED, []) + session.info.pop(_QUEUED_LAST, [])
                if self.is_sqlite:
                    for statement, rows in _batches(queued):
                        connection.execute(statement, rows)
                else:
                    _send_pipelined(connection, queued)
                # On PostgreSQL the server has committed already: psycopg finds the session idle and sends nothing.
                transaction.commit()
            except BaseException:
                if transaction.is_active:
                    transaction.rollback()
                else:
                    # A commit that failed still ended the transaction for SQLAlchemy, and the pool would
                    # not reset the connection: roll back whatever the server still holds open.
                    connection.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
                raise
            finally:
                session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def without_timeouts(connection: Connection) -> None:
    """Lift the request timeouts for the rest of this transaction: migrations, backups and restores may run long."""
    if connection.dialect.name != "sqlite":
        connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")


@contextmanager
def _busy_refused() -> Iterator[None]:
    """A lock or statement timeout becomes Busy: the request may be sent again, nothing was changed."""
    try:
        yield
    except DBAPIError as exc:
        state = getattr(exc.orig, "sqlstate", None)
        if state in _BUSY_STATES or any(message in str(exc.orig) for message in _BUSY_MESSAGES):
            raise Busy() from exc
        if exc.connection_invalidated or _server_gone(exc, state):
            # SQLAlchemy has marked every pooled connection of that server stale: the next request reconnects.
            raise Unavailable() from exc
        raise


def _server_gone(exc: DBAPIError, state: str | None) -> bool:
    """A PostgreSQL connection refused or cut; psycopg gives a refused connect no SQLSTATE at all."""
    if type(exc.orig).__module__.split(".")[0] != "psycopg":
        return False
    return state is None or state.startswith(_GONE_CLASS) or state in _GONE_STATES


def _send_pipelined(connection: Connection, queued: list[tuple[Executable, dict[str, Any]]]) -> None:
    """The writes and the COMMIT queued, then sent and answered in one round trip as the pipeline closes.

    A failed write makes the server skip the COMMIT; its error comes from the driver as the
    pipeline closes and is raised as SQLAlchemy would have raised it.
    """
    dbapi = connection.dialect.loaded_dbapi
    try:
        with connection.connection.driver_connection.pipeline():  # type: ignore[union-attr]
            for statement, rows in _batches(queued):
                connection.execute(statement, rows)
            connection.exec_driver_sql("COMMIT")
    except dbapi.Error as exc:
        raise DBAPIError.instance("COMMIT", None, exc, dbapi.Error) from exc


def insert_or_skip(session: Session, table: Table, unique: list[str]) -> Any:
    """INSERT that quietly skips rows whose `unique` columns exist already (ON CONFLICT DO NOTHING), either database.

    What must exist once (a card, a notification) is made so by its unique key, whoever gets there second.
    """
    insert_ = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]
    return insert_(table).on_conflict_do_nothing(index_elements=unique)


def queue_write(session: Session, statement: Executable, row: dict[str, Any], *, last: bool = False) -> None:
    """Run `statement` with `row` when the write session commits, in the order queued.

    Rows queued with `last` run after all others (a transaction's history rows, which nothing
    depends on), so they go together as one multi-row statement.
    """
    session.info.setdefault(_QUEUED_LAST if last else _QUEUED, []).append((statement, row))


def queue_update(session: Session, table: Table, row_id: int | str, **values: Any) -> None:
    """UPDATE one row (by `id`) at commit; what a transaction sets on the same row goes in one statement."""
    rows = session.info.setdefault(_ROWS, {})
    row = rows.get((table.name, row_id))
    if row is None:
        row = rows[(table.name, row_id)] = {"row_id": row_id}
        queue_write(session, _update_by_id(table), row)
    row.update(values)


@cache
def _update_by_id(table: Table) -> Executable:
    # Built once per table: an UPDATE sets the columns present in its parameters.
    return update(table).where(table.c.id == bindparam("row_id"))


def _batches(queued: list[tuple[Executable, dict[str, Any]]]) -> Iterator[tuple[Executable, list[dict[str, Any]]]]:
    """Consecutive runs of one statement with the same columns go as one executemany."""
    rows: list[dict[str, Any]] = []
    current: Executable | None = None
    for statement, row in queued:
        if rows and (statement is not current or row.keys() != rows[0].keys()):
            yield current, rows  # type: ignore[misc]
            rows = []
        current = statement
        rows.append(row)
    if rows:
        yield current, rows  # type: ignore[misc]


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event decide how a transaction starts (pysqlite would
        # otherwise issue its own deferred BEGIN lazily).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        immediate = connection.get_execution_options().get("begin_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
