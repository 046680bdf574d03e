"""Shared builders: claim lines and time segments as rows, written to real export files
and run through the real command line and a real DuckDB store."""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipeline import audit, reference, run, store
from pipeline.catalog import load_catalog
from pipeline.cli import main
from pipeline.config import load_config

PT_NPI = "1234567893"
PTA_NPI = "1245319599"
OT_NPI = "1588667638"
DAY = "2025-10-06"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def claim(
    cpt: str,
    units: int,
    *,
    claim_id: str = "C1",
    line: int = 1,
    patient: str = "P1",
    payer: str = "MEDICARE PART B",
    date: str = DAY,
    modifiers: str | None = "GP",
    npi: str = PT_NPI,
    frequency: str | None = None,
) -> dict[str, Any]:
    return {
        "claim_id": claim_id,
        "line_number": str(line),
        "claim_frequency": frequency,
        "patient_id": patient,
        "payer": payer,
        "rendering_npi": npi,
        "service_date": date,
        "cpt_code": cpt,
        "modifiers": modifiers,
        "units": str(units),
    }


def segment(
    cpt: str,
    minutes: int,
    *,
    start: str = "08:00",
    patient: str = "P1",
    role: str = "PT",
    npi: str = PT_NPI,
    date: str = DAY,
) -> dict[str, Any]:
    begin = datetime.fromisoformat(f"{date} {start}")
    return {
        "patient_id": patient,
        "provider_npi": npi,
        "provider_role": role,
        "service_date": date,
        "cpt_code": cpt,
        "start_time": f"{begin:%Y-%m-%d %H:%M}",
        "end_time": f"{begin + timedelta(minutes=minutes):%Y-%m-%d %H:%M}",
    }


def back_to_back(*codes: tuple[str, int], start: str = "08:00", **fields: Any) -> list[dict]:
    """Segments one after another from `start`: (code, minutes) pairs."""
    rows, clock = [], datetime.fromisoformat(f"{fields.get('date', DAY)} {start}")
    for cpt, minutes in codes:
        rows.append(segment(cpt, minutes, start=f"{clock:%H:%M}", **fields))
        clock += timedelta(minutes=minutes)
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    pl.DataFrame(rows, infer_schema_length=None).write_csv(path)
    return path


def csv_bytes(
    rows: list[dict[str, Any]],
    *,
    separator: str = ",",
    newline: str = "\n",
    encoding: str = "utf-8",
    columns: tuple[str, ...] | None = None,
) -> bytes:
    """Rows as an export writes them: a header (`columns`, or every key met), then one
    line a row."""
    columns = columns or tuple(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=separator, lineterminator=newline)
    writer.writerow(columns)
    writer.writerows([row.get(c) for c in columns] for row in rows)
    return out.getvalue().encode(encoding)


@dataclass
class Outputs:
    exit_code: int
    out: Path
    db: Path

    @property
    def findings(self) -> pl.DataFrame:
        return pl.read_csv(self.out / "findings.csv", infer_schema=False)

    @property
    def rejects(self) -> pl.DataFrame:
        return pl.read_csv(self.out / "rejects.csv", infer_schema=False)

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.out / "summary.json").read_text())


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., Outputs]:
    """Run `python -m pipeline audit` in-process on files, with a store in tmp_path."""

    def invoke(claims: list[Path], timelogs: list[Path], *extra: str) -> Outputs:
        out, db = tmp_path / "out", tmp_path / "store.duckdb"
        args = ["audit", "--claims", *map(str, claims), "--timelogs", *map(str, timelogs)]
        code = main([*args, "--out", str(out), "--db", str(db), "--quiet", *extra])
        return Outputs(exit_code=code, out=out, db=db)

    return invoke


@pytest.fixture
def audit_rows(tmp_path: Path, cli: Callable[..., Outputs]) -> Callable[..., Outputs]:
    """Audit claim and segment rows given inline."""

    def invoke(claims: list[dict], segments: list[dict], *extra: str) -> Outputs:
        claims_file = write_csv(tmp_path / "claims.csv", claims)
        timelogs_file = write_csv(tmp_path / "timelogs.csv", segments)
        result = cli([claims_file], [timelogs_file], *extra)
        assert result.exit_code == 0
        return result

    return invoke


@pytest.fixture
def code_units(tmp_path: Path) -> Callable[..., pl.DataFrame]:
    """The derived per-code units table for rows given inline (one store per call)."""

    def invoke(claims: list[dict], segments: list[dict]) -> pl.DataFrame:
        config = load_config()
        db = tmp_path / f"units-{len(list(tmp_path.glob('units-*')))}.duckdb"
        run.load(
            [write_csv(tmp_path / "c.csv", claims)],
            [write_csv(tmp_path / "t.csv", segments)],
            db,
            config,
        )
        con = store.connect(db)
        try:
            catalog = load_catalog(config)
            reference.install(con, config, catalog)
            audit.derive(con, catalog)
            return store.frame(con, "SELECT * FROM code_day_units ORDER BY cpt_code")
        finally:
            con.close()

    return invoke


# --- the report in a real browser ----------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed: `make test` installs Debian's chromium with apt-get",
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Never a browser of Playwright's own: the system's Chromium, offline.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Visit:
    """A page opened on a report, with every console message and request recorded."""

    def __init__(self, browser, report: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.console: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = report.as_uri()
        started = time.perf_counter()
        self.page.goto(self.url, wait_until="load")
        self.load_seconds = time.perf_counter() - started

    def visible_rows(self) -> int:
        return self.page.locator("#findings table.findings tbody tr:visible").count()

    def column(self, index: int) -> list[str]:
        return self.page.locator(
            f"#findings table.findings tbody tr:visible td:nth-child({index})"
        ).all_text_contents()
