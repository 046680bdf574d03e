"""Keys: whether an export may repeat a row's key, told as its rows are validated.

A file holds each key (`InputKind.key`) once; the store rejects every later row of a
repeated key (`store.keep_first_of_keys`). Finding them takes an aggregation of the
whole staged file on its key's columns, 5.7 s for 10M claim lines and 10M segments,
and exports seldom repeat a key. So each accepted batch's keys are hashed here, one
64-bit number a row (8 bytes of memory per row of the file), and the store looks for
repeated rows only when two of the file's hashes are equal: the file then repeats a
key, or two keys share a hash (about 3 files in a million of 10M rows) and the store's
exact look finds nothing. Equal keys always hash alike, so no repeat goes unseen.
"""

from __future__ import annotations

import polars as pl

from pipeline.columns import InputKind


class KeyHashes:
    """The hashes of one file's accepted keys, batch by batch."""

    def __init__(self, kind: InputKind) -> None:
        self._key = list(kind.key)
        self._hashes: list[pl.Series] = []

    def add(self, rows: pl.DataFrame) -> None:
        self._hashes.append(rows.select(pl.struct(self._key).hash()).to_series())

    def may_repeat(self) -> bool:
        """Whether two of the file's rows may share a key."""
        hashes = pl.concat(self._hashes) if self._hashes else pl.Series(dtype=pl.UInt64)
        return hashes.n_unique() < hashes.len()
