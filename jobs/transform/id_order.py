"""The rank of each artist id in ascending byte order: how the neighbour search breaks distance ties.

Byte order (unsigned, a prefix before its extensions) is how Spark compares
strings, so the ranks agree with the naive reference's ``ORDER BY related_id``.
Ids of up to ``MAX_WORDS`` x 8 bytes (Spotify's 22-character ids among them)
are sorted as integers: each id's bytes, zero-padded, read as big-endian
64-bit words, its length last. Sorting the first word is all it takes when no
two ids share their first 8 bytes; only ids that do are sorted on every word.
Longer ids fall back to Arrow's string sort.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_WORDS = 4


def id_order_key(ids: pa.Array) -> np.ndarray:
    """Rank of each id in ascending order; fails when an id repeats or is null."""
    if ids.null_count:
        raise ValueError("artist ids contain null")
    n = len(ids)
    words = _words(ids) if n else None
    if words is None:
        ascending = pc.sort_indices(ids).to_numpy()
        ordered = ids.take(pa.array(ascending))
        repeats = n > 1 and pc.any(pc.equal(ordered.slice(1), ordered.slice(0, n - 1))).as_py()
    else:
        ascending, repeats = _sort_words(words)
    if repeats:
        raise ValueError("artist ids repeat: one vector per artist expected")
    key = np.empty(n, dtype=np.int64)
    key[ascending] = np.arange(n)
    return key


def _sort_words(words: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(ascending, repeats)`` for ``(n_words + 1, n)`` keys, the first row most significant."""
    ascending = np.argsort(words[0], kind="stable")
    first = words[0, ascending]
    shared = np.flatnonzero(first[1:] == first[:-1])
    if not shared.size:
        return ascending, False
    # Slots whose ids share their first word with a neighbour: contiguous runs, in first-word order.
    slots = np.unique(np.concatenate([shared, shared + 1]))
    members = ascending[slots]
    members = members[np.lexsort(words[::-1, members])]
    ascending[slots] = members
    same = np.all(words[:, members[1:]] == words[:, members[:-1]], axis=0)
    return ascending, bool(same.any())


def _words(ids: pa.Array) -> np.ndarray | None:
    """The ids as ``(n_words + 1, n)`` uint64: big-endian words of their zero-padded bytes, then their lengths.

    None when the type is not a string or binary type, or an id is longer than ``MAX_WORDS`` words.
    """
    kind = ids.type
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        offset_type = np.int32
    elif pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        offset_type = np.int64
    else:
        return None
    n = len(ids)
    _, offset_buffer, data_buffer = ids.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=offset_type)[ids.offset : ids.offset + n + 1].astype(np.int64)
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    lengths = np.diff(offsets)
    longest = int(lengths.max())
    width = max(1, -(-longest // 8))
    if width > MAX_WORDS:
        return None
    padded = np.zeros((n, width * 8), dtype=np.uint8)
    if lengths.min() == longest:
        padded[:, :longest] = data[offsets[0] : offsets[0] + n * longest].reshape(n, longest)
    else:
        columns = np.arange(longest)
        inside = columns < lengths[:, None]
        padded[:, :longest][inside] = data[(offsets[:-1, None] + columns)[inside]]
    words = padded.view(">u8").astype(np.uint64).T
    return np.vstack([words, lengths.astype(np.uint64)[None, :]])
