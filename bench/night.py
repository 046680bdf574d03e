"""A night on a store that holds months: a size's CSV exports split at a day. The last
NIGHT_DAYS service days (of the claims) are the night's exports; every row before them,
and every row whose date cannot be read, is the store's history. The exports are in date
order, so this is what a practice sends on its latest nights.

The bench audits the history once, then the night's files on a copy of that store, as a
nightly job does (bench/run.py, format `night`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

NIGHT_DAYS = 5
KINDS = ("claims", "timelogs")
# Each night row's row number in the size's own export: rejects are scored by it.
ROW_NUMBERS = "row_numbers.parquet"


@dataclass(frozen=True)
class NightFiles:
    """The history's exports and the night's, each a (claims, time logs) pair named as
    the size's own (rejects name their file's kind by its name)."""

    folder: Path

    @property
    def history(self) -> tuple[Path, Path]:
        return self._pair("history")

    @property
    def night(self) -> tuple[Path, Path]:
        return self._pair("night")

    def _pair(self, part: str) -> tuple[Path, Path]:
        claims, timelogs = (self.folder / part / f"{kind}.csv" for kind in KINDS)
        return claims, timelogs


def night_files(size_folder: Path) -> NightFiles:
    """Where the size's split lives; split again by other code, the files go elsewhere."""
    made_by = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return NightFiles(size_folder / f"night-{made_by}")


def split(size_folder: Path) -> None:
    """Write the history's and the night's exports, and the night rows' numbers in the
    size's own files. Every row lands in exactly one of the two."""
    files = night_files(size_folder)
    claims = pl.read_csv(size_folder / "claims.csv", infer_schema=False)
    dates = claims.get_column("service_date").str.to_date("%Y-%m-%d", strict=False)
    nights = dates.drop_nulls().unique().sort().tail(NIGHT_DAYS).cast(pl.String)
    numbers = []
    for kind in KINDS:
        rows = (
            claims
            if kind == "claims"
            else pl.read_csv(size_folder / f"{kind}.csv", infer_schema=False)
        )
        # The number ptaudit gives a row: its place among the data rows, from 1.
        rows = rows.with_row_index("row_number", offset=1)
        tonight = pl.col("service_date").is_in(nights.implode()).fill_null(False)
        for part, chosen in (("history", ~tonight), ("night", tonight)):
            (files.folder / part).mkdir(parents=True, exist_ok=True)
            picked = rows.filter(chosen)
            picked.drop("row_number").write_csv(files.folder / part / f"{kind}.csv")
            if part == "night":
                numbers.append(
                    picked.select(
                        pl.lit(f"{kind}.csv").alias("file"),
                        pl.col("row_number").cast(pl.Int64).alias("original"),
                        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row_number"),
                    )
                )
    pl.concat(numbers).write_parquet(files.folder / ROW_NUMBERS)


def expected_rejects(size_folder: Path, expected: pl.DataFrame) -> pl.DataFrame:
    """The size's planted bad rows that fell in the night's files, numbered as there."""
    numbers = pl.read_parquet(night_files(size_folder).folder / ROW_NUMBERS)
    return (
        expected.rename({"row_number": "original"})
        .join(numbers, on=["file", "original"])
        .select("file", "row_number", "column")
    )


def night_claim_ids(size_folder: Path) -> pl.Series:
    claims, _ = night_files(size_folder).night
    return pl.read_csv(claims, columns=["claim_id"], infer_schema=False).get_column("claim_id")
