"""Rows streamed to MySQL/MariaDB by ``LOAD DATA LOCAL INFILE`` over one PyMySQL connection, from a
Python worker: the encoding (Arrow, vectorized) and the connection that serves only its own stream.

``LOAD DATA LOCAL`` lets the server ask the client for a file by name. :class:`StreamConnection`
answers only the random name of the statement it is running (``ra-stream-<hex>``), with the bytes of
that stream, and refuses any other name (a hostile or confused server asking for ``/etc/passwd``)
by sending nothing and raising :class:`StreamRefused`. It relies on PyMySQL 1.1.1's internals
(``Connection._read_query_result``, ``MySQLResult._read_load_local_packet``); the pin in
``setup.py`` keeps them, and ``tests/jobs/publish/test_load_data.py`` covers the handler.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pymysql
from pymysql.connections import MySQLResult
from pymysql.protocol import LoadLocalPacketWrapper

PACKET_BYTES = 1 << 20  # bytes per data packet sent to the server (capped by max_allowed_packet)
NULL = "\\N"
# LOAD DATA's escapes (ESCAPED BY '\\'): the backslash first, so the others are not escaped twice.
ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\0", "\\0"))


class StreamRefused(pymysql.err.OperationalError):
    """The server asked for a file other than the running statement's own stream."""


def stream_name() -> str:
    """A fresh random name for one statement's stream."""
    return f"ra-stream-{uuid.uuid4().hex}"


def load_statement(table: str, columns: Iterable[str], name: str) -> str:
    """``LOAD DATA LOCAL INFILE`` of stream ``name`` into ``table``: tab-separated UTF-8 lines,
    backslash escapes, ``\\N`` for NULL (the format :func:`encode_batch` writes)."""
    cols = ", ".join(f"`{column}`" for column in columns)
    return (
        f"LOAD DATA LOCAL INFILE '{name}' INTO TABLE {table} CHARACTER SET utf8mb4 "
        f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({cols})"
    )


def _field(column: pa.Array) -> pa.Array:
    """One column as LOAD DATA text: strings escaped, numbers printed, nulls as ``\\N``.

    Doubles print as Arrow's shortest text that parses back to the same double (bit-exact).
    """
    if pa.types.is_large_string(column.type):
        column = column.cast(pa.string())
    if pa.types.is_string(column.type):
        for plain, escaped in ESCAPES:
            column = pc.replace_substring(column, plain, escaped)
    elif pa.types.is_boolean(column.type):
        column = pc.if_else(column, "1", "0")
    else:
        column = column.cast(pa.string())
    return pc.fill_null(column, NULL)


def encode_batch(batch: pa.RecordBatch) -> memoryview:
    """The rows of ``batch`` as LOAD DATA lines (``\\t`` between fields, ``\\n`` after each row)."""
    if batch.num_rows == 0:
        return memoryview(b"")
    fields = [_field(column) for column in batch.columns]
    lines = pc.binary_join_element_wise(*fields, "\t") if len(fields) > 1 else fields[0]
    lines = pc.binary_join_element_wise(lines, "", "\n")
    offsets = memoryview(lines.buffers()[1]).cast("i")  # int32 offsets of a string array
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(lines.buffers()[2])[first:last]


class _StreamResult(MySQLResult):
    """A statement's result that serves its LOAD DATA LOCAL request from the connection's stream."""

    def _read_load_local_packet(self, first_packet):
        conn = self.connection
        asked = LoadLocalPacketWrapper(first_packet).filename
        wanted, chunks = conn.take_stream()
        if wanted is None or asked != wanted.encode():
            conn.write_packet(b"")  # nothing sent: the statement ends empty
            conn._read_packet()
            raise StreamRefused(
                2000,
                f"the server asked for the local file {asked[:200]!r}, which is not this statement's stream: refused",
            )
        size = max(1024, min(PACKET_BYTES, conn.max_allowed_packet - 1024))
        try:
            for chunk in _packets(chunks, size):
                conn.write_packet(chunk)
        finally:
            if not conn._closed:
                conn.write_packet(b"")  # the end of the stream
        ok_packet = conn._read_packet()
        if not ok_packet.is_ok_packet():
            raise pymysql.err.OperationalError(2014, "Commands Out of Sync")
        self._read_ok_packet(ok_packet)


def _packets(chunks: Iterable[memoryview | bytes], size: int) -> Iterator[bytes]:
    """``chunks`` regrouped into packets of ``size`` bytes (the last one shorter)."""
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


class StreamConnection(pymysql.connections.Connection):
    """A PyMySQL connection that serves ``LOAD DATA LOCAL`` from a stream set for one statement only."""

    def __init__(self, *args, **kwargs):
        self._stream: tuple[str, Iterable] | None = None
        super().__init__(*args, local_infile=True, **kwargs)

    def take_stream(self) -> tuple[str | None, Iterable]:
        stream, self._stream = self._stream, None
        return stream if stream is not None else (None, ())

    def load(self, table: str, columns: Iterable[str], chunks: Iterable[memoryview | bytes]) -> tuple[int, int]:
        """Run one ``LOAD DATA LOCAL INFILE`` into ``table`` from ``chunks``; ``(affected rows, warnings)``."""
        name = stream_name()
        self._stream = (name, chunks)
        try:
            affected = self.query(load_statement(table, columns, name))
        finally:
            self._stream = None
        return int(affected), int(self._result.warning_count if self._result else 0)

    def _read_query_result(self, unbuffered=False):
        if unbuffered:
            return super()._read_query_result(unbuffered)
        self._result = None
        result = _StreamResult(self)
        result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return result.affected_rows
