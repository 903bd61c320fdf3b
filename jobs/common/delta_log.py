"""A Delta table's transaction log read directly, through the Hadoop file system Spark itself uses.

What the lake asks most often (the table's current version, what one commit wrote) is written in
the ``_delta_log`` folder: commit ``N`` is the file ``<20-digit N>.json``, and its ``commitInfo``
action carries the operation's metrics (``numOutputRows`` for a write). Reading those files costs a
listing and one small read, where Delta's own API (``history()``, a count) runs Spark jobs that
rebuild the table's state first. Paths and credentials are Spark's (local folder, ``s3://`` on EMR,
``s3a://``), because the file system comes from the session's Hadoop configuration.

The layout used here is the Delta protocol's; anything unexpected returns None, and the caller
falls back to asking Delta.
"""

from __future__ import annotations

import json
import re

_COMMIT = re.compile(r"^(\d{20})\.json$")


class DeltaLog:
    """The ``_delta_log`` folder of the Delta table at ``table_path``."""

    def __init__(self, spark, table_path: str):
        jvm = spark.sparkContext._jvm
        self._jvm = jvm
        self._folder = jvm.org.apache.hadoop.fs.Path(f"{table_path}/_delta_log")
        self._fs = self._folder.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def versions(self) -> list[int]:
        """The versions whose commit file is in the log, ascending (empty when there is no log)."""
        if not self._fs.exists(self._folder):
            return []
        found = []
        for status in self._fs.listStatus(self._folder):
            match = _COMMIT.match(status.getPath().getName())
            if match:
                found.append(int(match.group(1)))
        return sorted(found)

    def latest_version(self) -> int | None:
        """The table's current version: its newest commit file (Delta never removes the newest)."""
        versions = self.versions()
        return versions[-1] if versions else None

    def commit_info(self, version: int) -> dict | None:
        """The ``commitInfo`` action of commit ``version``, or None when the commit has none."""
        for action in self._actions(version):
            if "commitInfo" in action:
                return action["commitInfo"]
        return None

    def written_rows(self, marker: str, newest: int, oldest: int) -> int | None:
        """``numOutputRows`` of the commit (between versions ``oldest`` and ``newest``, newest first)
        whose ``userMetadata`` is ``marker``; None when no such commit or metric is found."""
        for version in range(newest, oldest - 1, -1):
            info = self.commit_info(version)
            if info is not None and info.get("userMetadata") == marker:
                return _output_rows(info)
        return None

    def _actions(self, version: int):
        """The actions of commit ``version``, one dict per line of its file."""
        path = self._jvm.org.apache.hadoop.fs.Path(self._folder, f"{version:020d}.json")
        stream = self._fs.open(path)
        try:
            reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
            line = reader.readLine()
            while line is not None:
                if line.strip():
                    yield json.loads(line)
                line = reader.readLine()
        finally:
            stream.close()

    def replacing_commit(self, prefix: str, partition: str, version: int, max_commits: int = 64) -> int | None:
        """The commit that wrote ``partition`` as it is at ``version``: walking back from ``version``, the first
        commit whose ``userMetadata`` is ``<prefix><partition> ...`` replaced that partition whole; commits
        of the same prefix for other partitions are passed over. Any other commit (or a missing file, or more
        than ``max_commits``): None."""
        for current in range(version, max(-1, version - max_commits), -1):
            try:
                info = self.commit_info(current)
            except Exception:  # cleaned up from the log, or unreadable: the caller asks Delta instead
                return None
            meta = (info or {}).get("userMetadata") or ""
            if not meta.startswith(prefix):
                return None
            if meta[len(prefix) :].split(" ", 1)[0] == partition:
                return current
        return None

    def partition_rows(self, prefix: str, partition: str, version: int) -> int | None:
        """The rows of ``partition`` at ``version``: the ``numOutputRows`` of its
        :meth:`replacing_commit`; None when the log does not say."""
        commit = self.replacing_commit(prefix, partition, version)
        info = self.commit_info(commit) if commit is not None else None
        return _output_rows(info) if info is not None else None

    def partition_has_values(self, prefix: str, partition: str, version: int, column: str) -> bool | None:
        """Whether some row of ``partition`` at ``version`` has a value in ``column`` (a nested column counts
        when one of its fields has one), from the file statistics of its :meth:`replacing_commit`. None when
        the log cannot say: no such commit, a file without statistics, or statistics without the column."""
        commit = self.replacing_commit(prefix, partition, version)
        if commit is None:
            return None
        files = unknown = 0
        for action in self._actions(commit):
            if "add" not in action:
                continue
            files += 1
            try:
                stats = json.loads(action["add"]["stats"])
                rows, counts = int(stats["numRecords"]), _leaves(stats["nullCount"][column])
            except (KeyError, TypeError, ValueError):  # a file without statistics, or none for the column
                unknown += 1
                continue
            if any(int(count) < rows for count in counts):
                return True
        return None if unknown or not files else False


def _leaves(value) -> list:
    """The null counts of a column's statistics: one number, or one per field of a nested column."""
    if isinstance(value, dict):
        return [count for inner in value.values() for count in _leaves(inner)]
    return [value]


def _output_rows(info: dict) -> int | None:
    rows = (info.get("operationMetrics") or {}).get("numOutputRows")
    return int(rows) if rows is not None else None
