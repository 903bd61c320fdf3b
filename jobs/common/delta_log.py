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
        path = self._jvm.org.apache.hadoop.fs.Path(self._folder, f"{version:020d}.json")
        stream = self._fs.open(path)
        try:
            reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
            line = reader.readLine()
            while line is not None:
                if line.startswith('{"commitInfo"'):
                    return json.loads(line)["commitInfo"]
                line = reader.readLine()
        finally:
            stream.close()
        return None

    def written_rows(self, marker: str, newest: int, oldest: int) -> int | None:
        """``numOutputRows`` of the commit (between versions ``oldest`` and ``newest``, newest first)
        whose ``userMetadata`` is ``marker``; None when no such commit or metric is found."""
        for version in range(newest, oldest - 1, -1):
            info = self.commit_info(version)
            if info is not None and info.get("userMetadata") == marker:
                return _output_rows(info)
        return None

    def partition_rows(self, prefix: str, partition: str, version: int, max_commits: int = 64) -> int | None:
        """The rows of ``partition`` at ``version``, when the commits say it: walking back from ``version``,
        the first commit whose ``userMetadata`` is ``<prefix><partition> ...`` replaced that partition
        whole, and its ``numOutputRows`` are the answer; commits of the same prefix for other partitions
        are passed over. Any other commit (or a missing file, or more than ``max_commits``): None."""
        for current in range(version, max(-1, version - max_commits), -1):
            try:
                info = self.commit_info(current)
            except Exception:   # cleaned up from the log, or unreadable: the caller counts instead
                return None
            meta = (info or {}).get("userMetadata") or ""
            if not meta.startswith(prefix):
                return None
            if meta[len(prefix):].split(" ", 1)[0] == partition:
                return _output_rows(info)
        return None


def _output_rows(info: dict) -> int | None:
    rows = (info.get("operationMetrics") or {}).get("numOutputRows")
    return int(rows) if rows is not None else None
