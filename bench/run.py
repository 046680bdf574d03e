"""`make bench`: the whole audit on generated exports of several sizes, timed against a
bare DuckDB load of the same files, with peak memory and the planted problems scored.

    python -m bench.run --sizes 100k 1m 10m --formats csv parquet --repeat 3
    python -m bench.run --sizes 100k 1m --formats 837p --results bench/RESULTS-837p.md
    python -m bench.run --sizes 1m --formats csv night

For each size the exports are generated into bench/data/<size>/ unless a complete set
(its manifest.json) is there already. Then, for each format and each repeat, two
subprocesses run one after the other, on a fresh DuckDB file each:

- the bare load, `python -m bench.bareload`: CREATE TABLE ... AS SELECT * FROM
  read_csv(..., all_varchar = true) / read_parquet(...) for the claims and the time logs
  (for 837p, of the same claims as CSV: DuckDB reads no X12);
- the audit, `python -m pipeline audit --claims ... --timelogs ... --out ... --db ...
  --quiet`, exactly as a user runs it.

Format `night` is a nightly run instead (bench/night.py): the CSV exports' last days
audited on a copy of a store that holds the rest of them, audited once before; it has
no bare load.

Times are wall clock around each whole subprocess (interpreter start and imports
included, for both). Peak memory is the subprocess's own maximum resident set size,
from the rusage os.wait4 returns when the runner reaps it. getrusage(RUSAGE_CHILDREN)
would not do: its ru_maxrss is the largest peak of all children reaped so far, so a run
that follows a bigger one would report the bigger one's peak, and no difference of two
readings recovers the smaller. Linux also counts the runner's own resident memory, as it
is when the subprocess starts, into that subprocess's peak, so the runner stays small:
it writes the 837P file in a process of its own. Stage times come from the audit's summary.json
("timings"); findings are matched to expected_findings.parquet on rule_id, claim_id,
line_number and cpt_code, for the rules the generator plants.

Writes bench/RESULTS.md and prints a short table; raw numbers go to
bench/data/results.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from bench import night
from bench.cases import PLANTED_CASES
from bench.scale import CHECK_LIMIT, SIZES, generator_fingerprint, parse_size
from bench.synth import DEFAULT_SEED
from bench.x12 import write_837p
from pipeline.x12 import batch_ends

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "RESULTS.md"
FORMATS = ("csv", "parquet", "837p", "night")
X12 = "837p"  # the claims as an X12 837P file, beside the time logs as CSV
# The last days of the CSV exports audited on a store that holds the rest (bench/night.py)
NIGHT = "night"
MATCH_KEY = ["rule_id", "claim_id", "line_number", "cpt_code"]
PLANTED_RULES = sorted({e.rule_id for case in PLANTED_CASES for e in case.expected})
GIB = 1024**3
X12_SLICE_ROWS = 1_000_000  # claim lines in each interchange of a bench 837P file (about)
# Sizes from here on run --repeat-large times.
LARGE = 10_000_000
ALL_STAGES = "all stages"
OUTSIDE_STAGES = "outside the stages (start-up, imports, ...)"
TOTALS = (ALL_STAGES, OUTSIDE_STAGES)
# The stages of the rules' own work: each rule's SQL, and the derived tables they share.
RULE_STAGE = re.compile(r"flag: (derived \w+|[A-Z0-9_]+)")
# A stage shorter than this at 1M is mostly a statement's fixed cost (planning it,
# opening tables) and timer noise, so its 10M/1M ratio says little about growth: it is
# shown in the stage table but not judged.
JUDGED_STAGE_SECONDS = 0.1


# ------------------------------------------------------------------------ subprocesses


@dataclass(frozen=True)
class Measured:
    """One subprocess: wall-clock seconds, peak resident set, exit code."""

    seconds: float
    peak_bytes: int
    exit_code: int


def measure(command: Sequence[str], log: Path) -> Measured:
    """Run `command` from the repository root with its output in `log`, and reap it
    with os.wait4 so the rusage is that child's alone (ru_maxrss is in KiB on Linux)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        began = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Measured(seconds, usage.ru_maxrss * 1024, child.returncode)


def failure(what: str, measured: Measured, log: Path) -> str:
    tail = log.read_text(errors="replace").strip().splitlines()[-5:]
    return f"{what} exited with {measured.exit_code} (log {log}):\n  " + "\n  ".join(tail)


# ------------------------------------------------------------------------------ data


def size_label(lines: int) -> str:
    for label, count in SIZES.items():
        if count == lines:
            return label
    return f"{lines // 1000}k" if lines % 1000 == 0 else str(lines)


def ensure_data(lines: int, seed: int, data: Path) -> dict[str, Any]:
    """The size's exports and manifest, generated first if absent, or made with another
    seed or by other generator code. A generation run here is measured like the others."""
    folder = data / size_label(lines)
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        wanted = {"seed": seed, "lines_requested": lines, "generator": generator_fingerprint()}
        if all(manifest.get(key) == value for key, value in wanted.items()):
            manifest["generated_now"] = False
            return manifest
    shutil.rmtree(folder, ignore_errors=True)
    profile = f"bench-{size_label(lines)}"
    command = [sys.executable, "-m", "bench.synth", "--profile", profile, "--out", str(folder)]
    log = data / "logs" / f"generate-{size_label(lines)}.log"
    print(f"generating {size_label(lines)} claim lines into {folder} ...", flush=True)
    measured = measure([*command, "--seed", str(seed)], log)
    if measured.exit_code:
        raise RuntimeError(failure("the generator", measured, log))
    manifest = json.loads(manifest_path.read_text())
    manifest.update(
        generated_now=True,
        generate_wall_seconds=round(measured.seconds, 1),
        generate_peak_bytes=measured.peak_bytes,
    )
    return manifest


def inputs(folder: Path, fmt: str) -> tuple[Path, Path]:
    if fmt == X12:
        return ensure_837p(folder), folder / "timelogs.csv"
    if fmt == NIGHT:
        return ensure_night(folder).night
    return folder / f"claims.{fmt}", folder / f"timelogs.{fmt}"


def ensure_night(folder: Path) -> night.NightFiles:
    """The size's exports split into history and a night, on first use, by a process of
    its own (as the 837P file is written, to keep the runner small)."""
    files = night.night_files(folder)
    if not (files.folder / night.ROW_NUMBERS).is_file():
        print(f"splitting {folder} into history and the last {night.NIGHT_DAYS} days ...")
        in_own_process(night.split, folder)
    return files


def ensure_837p(folder: Path) -> Path:
    """claims.csv written as 837P on first use, by a process of its own: the text of a
    1M-line file takes 2 GB to build, which the runner would otherwise keep and pass on
    to the peak of every audit it starts."""
    path = folder / "claims.837p"
    if not path.is_file():
        print(f"writing {path} ...", flush=True)
        in_own_process(write_837p_files, folder, path)
    return path


def in_own_process(work: Callable[..., None], *args: object) -> None:
    """`work` done in a process started afresh (spawned, not forked: polars' threads do
    not survive a fork), whose memory goes when it ends."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(work, *args).result()


def write_837p_files(folder: Path, path: Path) -> None:
    """The 837P file and each row's LX segment number (the row numbers its rejects
    carry). The file is written an interchange per X12_SLICE_ROWS rows (cut where a
    claim ends): the text of 1M lines takes 2 GB to build."""
    rows = pl.read_csv(folder / "claims.csv", infer_schema=False)
    partial = path.with_suffix(".partial")
    segments: list[pl.Series] = []
    written_segments = 0
    with partial.open("w", encoding="utf-8") as out:
        for part in _claim_slices(rows, X12_SLICE_ROWS):
            written = write_837p(part)
            out.write(written.text)
            segments.append(pl.Series(written.line_segments) + written_segments)
            written_segments += written.segments
    pl.DataFrame(
        {
            "row_number": pl.int_range(1, rows.height + 1, eager=True),
            "segment": pl.concat(segments) if segments else pl.Series(dtype=pl.Int64),
        }
    ).write_parquet(folder / "claims.837p.segments.parquet")
    partial.rename(path)


def _claim_slices(rows: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    """`rows` in slices of about `size`, each ending where a claim's lines end."""
    claim = pl.concat_str("claim_id", "claim_frequency", separator="\x00", ignore_nulls=True)
    start = 0
    for end in batch_ends(rows.select(claim).to_series(), size):
        yield rows.slice(start, end - start)
        start = end


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Score:
    """Findings against the answer key, for the planted rules; rejects likewise."""

    expected: int
    found: int
    matched: int
    per_rule: dict[str, tuple[int, int, int]]  # rule -> (expected, found, matched)
    other_rules: dict[str, int]  # findings of rules nothing was planted for
    rejects_expected: int
    rejects_found: int
    rejects_matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 1.0

    @property
    def rejects_exact(self) -> bool:
        return self.rejects_expected == self.rejects_found == self.rejects_matched


def score(out: Path, folder: Path, fmt: str) -> Score:
    expected = _finding_keys(pl.read_parquet(folder / "expected_findings.parquet"))
    if fmt == NIGHT:
        expected = expected.filter(
            pl.col("claim_id").is_in(night.night_claim_ids(folder).implode())
        )
    all_found = pl.read_parquet(out / "findings.parquet")
    found = _finding_keys(all_found.filter(pl.col("rule_id").is_in(PLANTED_RULES)))
    matched = found.join(expected, on=MATCH_KEY, how="semi")
    per_rule = {
        rule: (
            expected.filter(pl.col("rule_id") == rule).height,
            found.filter(pl.col("rule_id") == rule).height,
            matched.filter(pl.col("rule_id") == rule).height,
        )
        for rule in PLANTED_RULES
    }
    others = all_found.filter(~pl.col("rule_id").is_in(PLANTED_RULES)).group_by("rule_id").len()
    rejects = _reject_keys(pl.read_csv(out / "rejects.csv", infer_schema=False))
    expected_rejects = _reject_keys(_expected_rejects(folder, fmt))
    return Score(
        expected=expected.height,
        found=found.height,
        matched=matched.height,
        per_rule=per_rule,
        other_rules=dict(others.sort("rule_id").iter_rows()),
        rejects_expected=expected_rejects.height,
        rejects_found=rejects.height,
        rejects_matched=rejects.join(expected_rejects, on=list(rejects.columns), how="semi").height,
    )


def _expected_rejects(folder: Path, fmt: str) -> pl.DataFrame:
    """The planted bad rows; in the 837P file, a claim row is numbered by its segment."""
    expected = pl.read_parquet(folder / "expected_rejects.parquet")
    if fmt == NIGHT:
        return night.expected_rejects(folder, expected)
    if fmt != X12:
        return expected
    segments = pl.read_parquet(folder / "claims.837p.segments.parquet")
    claims = expected.filter(pl.col("file") == "claims.csv").join(segments, on="row_number")
    return pl.concat(
        [
            claims.select(pl.lit("claims.837p").alias("file"), "segment", "column").rename(
                {"segment": "row_number"}
            ),
            expected.filter(pl.col("file") != "claims.csv"),
        ]
    )


def _finding_keys(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        pl.col("rule_id", "claim_id", "cpt_code").cast(pl.String),
        pl.col("line_number").cast(pl.Int64),
    ).select(MATCH_KEY)


def _reject_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """(file kind, row number, column): `claims` or `timelogs`, whatever the format."""
    file = "source_file" if "source_file" in frame.columns else "file"
    kind = pl.col(file).str.extract(r"([^/\\]+)\.[^.]+$").alias("kind")
    return frame.select(kind, pl.col("row_number").cast(pl.Int64), "column").unique()


# ---------------------------------------------------------------------------- running


@dataclass
class Case:
    """All runs of one size and format."""

    size: str
    fmt: str
    lines: int
    segments: int
    audit: list[Measured] = field(default_factory=list)
    bare: list[Measured] = field(default_factory=list)
    bare_inside: list[float] = field(default_factory=list)  # the statements alone
    stages: list[list[dict[str, Any]]] = field(default_factory=list)  # [] when n/a
    history: Measured | None = None  # a night's: the audit of the store's history
    score: Score | None = None
    errors: list[str] = field(default_factory=list)


def run_case(manifest: dict[str, Any], folder: Path, fmt: str, repeat: int, work: Path) -> Case:
    """Bare load, then audit, `repeat` times; the two alternate so that a slower spell
    of a shared machine falls on both alike. A night's case audits the history once,
    then the night `repeat` times, each on a copy of the history's store."""
    claims, timelogs = inputs(folder, fmt)
    case = Case(manifest["size"], fmt, manifest["claim_lines"], manifest["time_segments"])
    if fmt == NIGHT:
        return _run_nights(case, folder, repeat, work / f"{case.size}-{fmt}")
    for attempt in range(1, repeat + 1):
        run_dir = work / f"{case.size}-{fmt}"
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        print(f"  {case.size} {fmt} run {attempt}/{repeat}: bare load ...", end="", flush=True)
        _bare_load(case, folder / "claims.csv" if fmt == X12 else claims, timelogs, run_dir)
        print(" audit ...", end="", flush=True)
        _audit(case, claims, timelogs, run_dir, folder)
        audit = f"{case.audit[-1].seconds:.1f} s" if case.audit else "failed"
        bare = f"{case.bare[-1].seconds:.1f} s" if case.bare else "failed"
        print(f" bare {bare}, audit {audit}", flush=True)
        for db in run_dir.glob("*.duckdb*"):
            db.unlink()  # a 10M store takes gigabytes; the outputs stay for a look
    return case


def _run_nights(case: Case, folder: Path, repeat: int, run_dir: Path) -> Case:
    files = ensure_night(folder)
    claims, timelogs = files.night
    case.lines, case.segments = (_data_rows(path) for path in files.night)
    shutil.rmtree(run_dir, ignore_errors=True)
    history = run_dir / "history"
    print(f"  {case.size} {NIGHT}: the history ...", end="", flush=True)
    measured = measure(_audit_command(*files.history, history), history / "audit.log")
    if measured.exit_code:
        case.errors.append(failure("the history's audit", measured, history / "audit.log"))
        return case
    case.history = measured
    print(f" {measured.seconds:.1f} s", flush=True)
    for attempt in range(1, repeat + 1):
        print(f"  {case.size} {NIGHT} run {attempt}/{repeat}: audit ...", end="", flush=True)
        shutil.copy(history / "audit.duckdb", run_dir / "audit.duckdb")
        _audit(case, claims, timelogs, run_dir, folder)
        print(f" {case.audit[-1].seconds:.1f} s" if case.audit else " failed", flush=True)
    for db in run_dir.rglob("*.duckdb*"):
        db.unlink()
    return case


def _data_rows(path: Path) -> int:
    return pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item()


def _bare_load(case: Case, claims: Path, timelogs: Path, run_dir: Path) -> None:
    log = run_dir / "bareload.log"
    command = [sys.executable, "-m", "bench.bareload", "--db", str(run_dir / "bare.duckdb")]
    measured = measure([*command, "--claims", str(claims), "--timelogs", str(timelogs)], log)
    if measured.exit_code:
        case.errors.append(failure("the bare load", measured, log))
        return
    case.bare.append(measured)
    case.bare_inside.append(json.loads(log.read_text().strip().splitlines()[-1])["seconds"])


def _audit(case: Case, claims: Path, timelogs: Path, run_dir: Path, folder: Path) -> None:
    log, out = run_dir / "audit.log", run_dir / "out"
    measured = measure(_audit_command(claims, timelogs, run_dir), log)
    if measured.exit_code:
        case.errors.append(failure("the audit", measured, log))
        return
    case.audit.append(measured)
    summary = json.loads((out / "summary.json").read_text())
    case.stages.append(summary.get("timings") or [])
    case.score = score(out, folder, case.fmt)


def _audit_command(claims: Path, timelogs: Path, run_dir: Path) -> list[str]:
    """The audit as a user runs it, its store and outputs in `run_dir`."""
    command = [sys.executable, "-m", "pipeline", "audit", "--claims", str(claims)]
    command += ["--timelogs", str(timelogs), "--out", str(run_dir / "out")]
    return [*command, "--db", str(run_dir / "audit.duckdb"), "--quiet"]


# ---------------------------------------------------------------------------- figures


def median(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None


def audit_median(case: Case) -> float | None:
    return median(m.seconds for m in case.audit)


def bare_median(case: Case) -> float | None:
    return median(m.seconds for m in case.bare)


def ratio(case: Case) -> float | None:
    audit, bare = audit_median(case), bare_median(case)
    return audit / bare if audit and bare else None


def peak(case: Case) -> int | None:
    return max((m.peak_bytes for m in case.audit), default=None)


def stage_medians(case: Case) -> dict[str, float]:
    """Median seconds per stage over the runs that reported stages, in stage order, then
    the stages' total and the rest of the wall clock (start-up, imports, opening the
    store: whatever no stage timed)."""
    names: dict[str, list[float]] = {}
    for run in case.stages:
        for stage in run:
            names.setdefault(stage["stage"], []).append(float(stage["seconds"]))
    medians = {name: statistics.median(values) for name, values in names.items()}
    timed = [
        (m.seconds, sum(s["seconds"] for s in run))
        for m, run in zip(case.audit, case.stages, strict=True)
        if run
    ]
    if timed:
        medians[ALL_STAGES] = statistics.median(total for _, total in timed)
        medians[OUTSIDE_STAGES] = statistics.median(wall - total for wall, total in timed)
    return medians


def fmt_seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def fmt_mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 1024**2:,.0f}"


def fmt_share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


# ---------------------------------------------------------------------------- targets


def find(cases: list[Case], size: str, fmt: str) -> Case | None:
    return next((c for c in cases if c.size == size and c.fmt == fmt and c.audit), None)


def targets(cases: list[Case]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each target of the issue; n/a where the run did
    not include the sizes or formats a target needs."""
    rows = []
    one = find(cases, "1m", "csv")
    value = ratio(one) if one else None
    rows.append(("1M+1M CSV: audit within 4x the bare load", _x(value), _verdict(value, 4)))
    for fmt, limit in (("parquet", 30), ("csv", 60)):
        ten = find(cases, "10m", fmt)
        value = audit_median(ten) if ten else None
        measured = "n/a" if value is None else f"{value:.1f} s"
        rows.append((f"10M+10M {fmt}: under {limit} s", measured, _verdict(value, limit)))
    peaks = [peak(c) for c in cases if c.size == "10m" and c.audit]
    value = max(peaks) / GIB if peaks else None
    measured = "n/a" if value is None else f"{value:.2f} GiB"
    rows.append(("peak memory at 10M under 4 GiB", measured, _verdict(value, 4)))
    for fmt in (f for f in FORMATS if f != NIGHT):
        one, ten = find(cases, "1m", fmt), find(cases, "10m", fmt)
        value = audit_median(ten) / audit_median(one) if one and ten else None
        rows.append(
            (f"10M takes at most 12x the time of 1M ({fmt})", _x(value), _verdict(value, 12))
        )
    rows += [_rule_growth_target(cases, fmt) for fmt in FORMATS if fmt != NIGHT]
    scored = [c.score for c in cases if c.score]
    found_all = all(s.recall == 1.0 for s in scored) and not any(c.errors for c in cases)
    measured = ", ".join(f"{c.size} {c.fmt} {c.score.recall:.4f}" for c in cases if c.score)
    verdict = "n/a" if not scored else ("met" if found_all else "NOT met")
    rows.append(("planted problems all found at every size (recall)", measured, verdict))
    return rows


def stage_growth(one: Case, ten: Case) -> dict[str, float]:
    """Each stage's median at 10M over its median at 1M, for the stages both timed."""
    small, large = stage_medians(one), stage_medians(ten)
    return {name: large[name] / small[name] for name in small if small[name] > 0 and name in large}


def _rule_growth_target(cases: list[Case], fmt: str) -> tuple[str, str, str]:
    """The near-linear target for each rule: the worst 10M/1M ratio among the rule
    stages long enough at 1M to judge."""
    target = f"each rule and derived table: 10M at most 12x its 1M time ({fmt})"
    one, ten = find(cases, "1m", fmt), find(cases, "10m", fmt)
    if not (one and ten):
        return target, "n/a", _verdict(None, 12)
    small = stage_medians(one)
    judged = {
        name: value
        for name, value in stage_growth(one, ten).items()
        if RULE_STAGE.fullmatch(name) and small[name] >= JUDGED_STAGE_SECONDS
    }
    if not judged:
        return target, "n/a", "n/a (no rule stage long enough at 1M)"
    worst = max(judged, key=judged.__getitem__)
    measured = (
        f"worst {worst.removeprefix('flag: ')} {judged[worst]:.2f}x "
        f"({len(judged)} stages of at least {JUDGED_STAGE_SECONDS} s at 1M)"
    )
    return target, measured, _verdict(judged[worst], 12)


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "n/a (not in this run)"
    return "met" if value <= limit else "NOT met"


# ---------------------------------------------------------------------------- machine


def machine() -> dict[str, str]:
    """What the numbers were measured on, from /proc and the interpreter."""
    cpu = _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown"
    mem_kib = _proc_field("/proc/meminfo", "MemTotal")
    ram = f"{int(mem_kib.split()[0]) / 1024**2:.1f} GiB" if mem_kib else "unknown"
    cgroup = _read("/sys/fs/cgroup/memory.max")
    if cgroup and cgroup != "max":
        ram += f" (cgroup limit {int(cgroup) / GIB:.1f} GiB)"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "CPU": cpu,
        "cores": f"{usable} usable ({os.cpu_count()} online)",
        "RAM": ram,
        "OS": platform.platform(),
        "load average at start (1/5/15 min)": " / ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


def versions() -> dict[str, str]:
    found = {"Python": platform.python_version()}
    for package in ("polars", "duckdb", "pandera", "pyarrow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def commit() -> str:
    """The checked-out commit (read only; uncommitted changes are not shown)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def _proc_field(path: str, name: str) -> str | None:
    for line in (_read(path) or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


# ---------------------------------------------------------------------------- writing


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def summary_rows(cases: list[Case]) -> list[list[str]]:
    rows = []
    for c in cases:
        s = c.score
        rows.append(
            [
                c.size,
                c.fmt,
                f"{c.lines:,}",
                f"{c.segments:,}",
                fmt_seconds(audit_median(c)),
                fmt_seconds(bare_median(c)),
                _x(ratio(c)),
                fmt_mib(peak(c)),
                fmt_share(s.precision if s else None),
                fmt_share(s.recall if s else None),
                "n/a" if not s else ("exact" if s.rejects_exact else "DIFFER"),
            ]
        )
    return rows


SUMMARY_HEADER = (
    "size",
    "format",
    "claim lines",
    "time segments",
    "audit s (median)",
    "bare load s (median)",
    "audit / bare",
    "audit peak RSS MiB",
    "precision",
    "recall",
    "rejects",
)


def results_markdown(
    cases: list[Case], manifests: list[dict[str, Any]], facts: dict[str, Any]
) -> str:
    out = ["# Benchmark results", ""]
    out += [
        f"Written by `python -m bench.run {facts['arguments']}` (`make bench`) on "
        f"{facts['date']}, at commit {facts['commit']}. The numbers are only as good as "
        "the machine was quiet: see the load averages. Claims read from X12 837P files "
        "are measured into a file of their own: `make bench FORMATS=837p "
        "RESULTS=bench/RESULTS-837p.md`.",
        "",
        "## Machine",
        "",
    ]
    out += [f"- {key}: {value}" for key, value in facts["machine"].items()]
    out += [f"- load average at end: {facts['load_at_end']}", ""]
    out += ["## Versions", ""]
    out += [f"- {key} {value}" for key, value in facts["versions"].items()]
    out += ["", "## Summary", ""]
    out += table(SUMMARY_HEADER, summary_rows(cases))
    out += ["", _how_measured(facts["repeat"], facts["repeat_large"]), "", "## Targets", ""]
    out += table(("target", "measured", "verdict"), targets(cases))
    out += ["", "## Every run", ""]
    out += table(
        ("size", "format", "audit s", "bare load s (inside the process)", "audit peak RSS MiB"),
        _run_rows(cases),
    )
    nights = [c for c in cases if c.fmt == NIGHT]
    if nights:
        out += ["", "## Nights", "", *_night_table(cases, nights)]
    out += ["", "## Stages (median seconds, from summary.json)", ""]
    out += _stage_table(cases)
    out += ["", "## Planted problems", ""]
    out += _score_table(cases)
    out += ["", "## Data", ""]
    out += _data_table(manifests)
    errors = [e for c in cases for e in c.errors]
    if errors:
        out += ["", "## Failures", "", "```", *errors, "```"]
    return "\n".join(out) + "\n"


def _how_measured(repeat: int, repeat_large: int) -> str:
    return (
        f"Each size and format ran {repeat} time(s) ({repeat_large} at 10M lines and more), "
        "bare load and audit alternating, each "
        "in a fresh subprocess on a fresh DuckDB file. Seconds are wall clock around the "
        "whole subprocess, interpreter start and imports included, for both. The bare "
        "load is `CREATE TABLE ... AS SELECT * FROM read_csv(..., all_varchar = true)` (or "
        "`read_parquet`) for both files (bench/bareload.py); the audit is "
        "`python -m pipeline audit ... --quiet`. "
        "Peak RSS is the audit subprocess's own maximum resident set size (the rusage "
        "os.wait4 returns when it is reaped), the largest over its runs. Precision and "
        "recall count findings of the planted rules "
        f"({', '.join(PLANTED_RULES)}) matched to expected_findings.parquet on rule_id, "
        "claim_id, line_number and cpt_code; `rejects` says whether rejects.csv holds "
        "exactly the planted bad rows (file, row number, column)."
    )


def _night_table(cases: list[Case], nights: list[Case]) -> list[str]:
    rows = []
    for c in nights:
        whole = find(cases, c.size, "csv")
        night_s, whole_s = audit_median(c), audit_median(whole) if whole else None
        rows.append(
            [
                c.size,
                f"{c.lines:,}",
                f"{c.segments:,}",
                fmt_seconds(c.history.seconds if c.history else None),
                fmt_seconds(night_s),
                fmt_seconds(whole_s),
                "n/a" if not (night_s and whole_s) else f"{night_s / whole_s:.0%}",
            ]
        )
    header = (
        "size",
        "night's claim lines",
        "night's segments",
        "history's audit s",
        "night's audit s (median)",
        "whole CSV audit s (median)",
        "night / whole",
    )
    return [
        *table(header, rows),
        "",
        f"A night is the last {night.NIGHT_DAYS} service days of the size's CSV exports "
        "(bench/night.py), audited on a copy of a store that holds the rest of them (the "
        "history, audited once first). The rules that look at one patient at a time run "
        "for the night's patients only, with their whole history; the findings are "
        "scored against the planted problems on the night's claims, and the rejects "
        "against the planted bad rows that fell in the night's files.",
    ]


def _run_rows(cases: list[Case]) -> list[list[str]]:
    rows = []
    for c in cases:
        bare = ", ".join(
            f"{m.seconds:.2f} ({inside:.2f})"
            for m, inside in zip(c.bare, c.bare_inside, strict=True)
        )
        rows.append(
            [
                c.size,
                c.fmt,
                ", ".join(f"{m.seconds:.2f}" for m in c.audit) or "failed",
                bare or ("n/a" if c.fmt == NIGHT else "failed"),
                ", ".join(fmt_mib(m.peak_bytes) for m in c.audit) or "n/a",
            ]
        )
    return rows


def _stage_table(cases: list[Case]) -> list[str]:
    medians = {(c.size, c.fmt): stage_medians(c) for c in cases}
    names = list(dict.fromkeys(n for m in medians.values() for n in m))
    if not names:
        return ["n/a: no audit run reported `timings` in its summary.json."]
    pairs = [
        (one, ten)
        for fmt in FORMATS
        if fmt != NIGHT and (one := find(cases, "1m", fmt)) and (ten := find(cases, "10m", fmt))
    ]
    growth = [stage_growth(one, ten) for one, ten in pairs]
    header = [
        "stage",
        *(f"{size} {fmt}" for size, fmt in medians),
        *(f"10m/1m {one.fmt}" for one, _ in pairs),
    ]
    rows = [
        [
            name,
            *(fmt_seconds(m.get(name)) for m in medians.values()),
            *(_x(g.get(name)) for g in growth),
        ]
        for name in names
    ]
    return table(header, [[f"**{r[0]}**", *r[1:]] if r[0] in TOTALS else r for r in rows])


def _score_table(cases: list[Case]) -> list[str]:
    rows = []
    for c in cases:
        if not c.score:
            continue
        for rule, (expected, found, matched) in c.score.per_rule.items():
            rows.append([c.size, c.fmt, rule, str(expected), str(found), str(matched)])
        others = ", ".join(f"{rule} {n}" for rule, n in c.score.other_rules.items()) or "none"
        rows.append([c.size, c.fmt, "other rules (nothing planted)", "0", others, ""])
        rows.append(
            [
                c.size,
                c.fmt,
                "rejected rows",
                str(c.score.rejects_expected),
                str(c.score.rejects_found),
                str(c.score.rejects_matched),
            ]
        )
    return table(("size", "format", "rule", "expected", "found", "matched"), rows)


def _data_table(manifests: list[dict[str, Any]]) -> list[str]:
    rows = []
    for m in manifests:
        when = "this run" if m["generated_now"] else "earlier"
        wall = m.get("generate_wall_seconds")
        peak_bytes = m.get("generate_peak_bytes")
        peak_mib = fmt_mib(peak_bytes) if peak_bytes else f"{m['generate_peak_rss_mib']:,}"
        planted = sum(m["planted_visits"].values())
        rows.append(
            [
                m["size"],
                f"{m['claim_lines']:,}",
                f"{m['time_segments']:,}",
                f"{m['visits']:,}",
                f"{m['patients']:,}",
                f"{m['providers']:,}",
                f"{planted:,} ({planted / m['visits']:.1%})",
                f"{sum(m['expected_findings'].values()):,}",
                f"{m['generate_seconds']}" + (f" ({wall} wall)" if wall else ""),
                peak_mib,
                when,
            ]
        )
    header = (
        "size",
        "claim lines",
        "time segments",
        "visits",
        "patients",
        "providers",
        "planted visits",
        "expected findings",
        "generation s",
        "generation peak MiB",
        "generated",
    )
    return [
        *table(header, rows),
        "",
        "Generation seconds are the generator's own; in brackets the whole subprocess, "
        f"with the check that re-reads the files of sizes up to {CHECK_LIMIT:,} lines.",
    ]


def print_summary(cases: list[Case]) -> None:
    header = ("size", "format", "audit s", "bare s", "ratio", "peak MiB", "precision", "recall")
    rows = [[r[0], r[1], r[4], r[5], r[6], r[7], r[8], r[9]] for r in summary_rows(cases)]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print("  ".join(str(x).rjust(w) for x, w in zip(row, widths, strict=True)))


# ------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sizes", nargs="+", default=["100k", "1m", "10m"], help="100k 1m 10m 2500"
    )
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--repeat-large",
        type=int,
        help="runs of sizes of 10M lines and more (default: --repeat); each takes minutes",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--data", type=Path, default=DATA, help="where the exports are kept")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the Markdown report")
    args = parser.parse_args(argv)
    try:
        args.lines = [parse_size(size) for size in args.sizes]
    except ValueError as exc:
        parser.error(str(exc))
    args.repeat_large = args.repeat if args.repeat_large is None else args.repeat_large
    if min(args.repeat, args.repeat_large) < 1:
        parser.error("--repeat and --repeat-large must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    facts: dict[str, Any] = {
        "arguments": " ".join(
            [
                *("--sizes", *args.sizes, "--formats", *args.formats),
                *("--repeat", str(args.repeat), "--repeat-large", str(args.repeat_large)),
            ]
        ),
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "commit": commit(),
        "machine": machine(),
        "versions": versions(),
        "repeat": args.repeat,
        "repeat_large": args.repeat_large,
    }
    cases, manifests = [], []
    for lines in args.lines:
        manifest = ensure_data(lines, args.seed, args.data)
        manifest["size"] = size_label(lines)
        manifests.append(manifest)
        folder = args.data / manifest["size"]
        for fmt in args.formats:
            repeat = args.repeat_large if lines >= LARGE else args.repeat
            cases.append(run_case(manifest, folder, fmt, repeat, args.data / "runs"))
    facts["load_at_end"] = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(results_markdown(cases, manifests, facts), encoding="utf-8")
    raw = {**facts, "cases": [_raw(c) for c in cases], "data": manifests}
    (args.data / "results.json").write_text(json.dumps(raw, indent=2, default=str) + "\n")
    print()
    print_summary(cases)
    for row in targets(cases):
        print(f"{row[2]:>22}  {row[0]}: {row[1]}")
    print(f"wrote {args.results}")
    failed = any(c.errors for c in cases) or any(c.score and c.score.recall < 1 for c in cases)
    return 1 if failed else 0


def _raw(case: Case) -> dict[str, Any]:
    raw = asdict(case)
    raw["score"] = (
        None
        if not case.score
        else {**asdict(case.score), "precision": case.score.precision, "recall": case.score.recall}
    )
    return raw


if __name__ == "__main__":
    sys.exit(main())
