"""Staging: where a load's validated rows wait, as Parquet files beside the store, until
the load's one transaction stores them.

Each batch is written as it is validated (polars writes a batch in a fraction of the
time DuckDB takes to compress it into a table of its own), so memory holds one batch,
never a file. The store's tables change only when the load's transaction reads the
files back (`rows`, `rejects`). A load that is killed leaves the folder behind; it is
removed when the store is next opened (`store.connect`), as it is when a load ends.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

REJECTS = "rejects"
DUCKDB_ROW_GROUP = 122_880


class Staging:
    """The staging folder of the store at `db`: `<db>.staging/`."""

    def __init__(self, db: Path) -> None:
        self.folder = Path(f"{db}.staging")
        self._written: dict[str, int] = {}

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def add_rows(self, position: int, rows: pl.DataFrame) -> None:
        """One batch of the accepted rows of the load's `position`-th file. Every batch
        is written, an empty one too: the file's rows then always have a shape."""
        self._write(f"rows_{position}", rows)

    def add_rejects(self, run_id: str, rejects: pl.DataFrame) -> None:
        if rejects.height:
            self._write(REJECTS, rejects.select(pl.lit(run_id).alias("run_id"), pl.all()))

    def rows(self, position: int) -> str:
        """The file's staged rows, as a DuckDB table expression."""
        return _read(self.folder / f"rows_{position}")

    def spill(self, position: int) -> Path:
        """A folder for what reading the load's `position`-th file sets aside for later
        (an X12 file's segments, between its two passes)."""
        return self.folder / f"spill_{position}"

    def rejects(self) -> str | None:
        """Every staged reject, as a DuckDB table expression; None when there is none."""
        folder = self.folder / REJECTS
        return _read(folder) if folder.is_dir() else None

    def _write(self, part: str, frame: pl.DataFrame) -> None:
        folder = self.folder / part
        folder.mkdir(parents=True, exist_ok=True)
        number = self._written.get(part, 0)
        self._written[part] = number + 1
        # lz4: as quick to write as no compression, and half the disk. Row groups of
        # DuckDB's own size: left to polars, they follow the batch's chunks (a CSV
        # batch has dozens), and DuckDB then reads the file back at half the speed.
        frame.write_parquet(
            folder / f"{number:06d}.parquet",
            compression="lz4",
            statistics=False,
            row_group_size=DUCKDB_ROW_GROUP,
        )


def _read(folder: Path) -> str:
    pattern = str(folder / "*.parquet").replace("'", "''")
    return f"read_parquet('{pattern}')"
