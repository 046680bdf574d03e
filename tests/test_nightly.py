"""Nightly runs on one store: exports loaded before are skipped by their checksum and
still bring their claims to the run's scope; a file loaded again under the same path
with other content is a new version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from markupsafe import escape

from pipeline.cli import main
from tests.conftest import SAMPLE, back_to_back, claim, write_csv

PATIENT = "PATIENT-5521"
# 38 minutes support 3 units: 2 of 97110 and 1 of 97140.
SEGMENTS = back_to_back(("97110", 23), ("97140", 15), patient=PATIENT)


def billed(units_97110: int, patient: str = PATIENT, **fields) -> list[dict]:
    return [
        claim("97110", units_97110, patient=patient, **fields),
        claim("97140", 1, line=2, patient=patient, **fields),
    ]


OVERBILLED = billed(3)


def audit(
    tmp_path: Path, claims: list[Path], timelogs: list[Path], *extra: str, out: str = "out"
) -> dict:
    """One nightly audit on the shared store; its summary.json."""
    out = tmp_path / out
    args = ["audit", "--claims", *map(str, claims), "--timelogs", *map(str, timelogs)]
    code = main([*args, "--db", str(tmp_path / "store.duckdb"), "--out", str(out), *extra])
    assert code == 0
    return json.loads((out / "summary.json").read_text())


def by_file(summary: dict) -> dict[str, dict]:
    return {Path(i["file"]).name: i for i in summary["inputs"]}


def findings(tmp_path: Path, out: str = "out") -> pl.DataFrame:
    return pl.read_csv(tmp_path / out / "findings.csv", infer_schema=False)


def loaded_run_ids(db: Path) -> set[str]:
    with duckdb.connect(str(db)) as con:
        rows = con.execute("SELECT DISTINCT loaded_run_id FROM claim_lines").fetchall()
    return {row[0] for row in rows}


@pytest.fixture
def night1(tmp_path: Path) -> tuple[Path, Path]:
    return write_csv(tmp_path / "claims.csv", OVERBILLED), write_csv(tmp_path / "t.csv", SEGMENTS)


def test_exports_loaded_before_are_skipped_unread_and_still_reported(tmp_path, night1, capsys):
    first = audit(tmp_path, [night1[0]], [night1[1]], "--quiet")
    first_findings = findings(tmp_path)
    second = audit(tmp_path, [night1[0]], [night1[1]], "--log-json")

    for name, source in by_file(second).items():
        assert source["status"] == "skipped", name
        assert source["loaded_in_run"] == first["run_id"]
        assert source["note"] == f"already loaded in run {first['run_id']}, skipped"
        counts = [source[c] for c in ("rows_read", "rows_accepted", "rows_rejected", "rows_new")]
        assert counts == [0, 0, 0, 0] and source["reconciled"]
    assert second["totals"]["files_skipped"] == 2 and second["totals"]["rows_read"] == 0
    # Nothing was read or validated: no load stage was timed but the one that records
    # the run's scope (the skipped files' claims), and no row changed hands.
    load_stages = [t["stage"] for t in second["timings"] if t["stage"].startswith("load:")]
    assert load_stages == ["load: scope of the run"]
    assert loaded_run_ids(tmp_path / "store.duckdb") == {first["run_id"]}
    # The skipped files' claims are still the run's: the same findings, the same ids.
    second_findings = findings(tmp_path)
    assert second_findings.drop("status").equals(first_findings.drop("status"))
    assert first_findings["status"].to_list() == ["new"]
    assert second_findings["status"].to_list() == ["still_open"]
    assert second["findings"]["total"] == first["findings"]["total"] == 1
    assert second["audited"] == first["audited"]

    err = capsys.readouterr().err
    assert PATIENT not in err
    lines = [json.loads(line) for line in err.splitlines()]
    skipped = [line for line in lines if line.get("skipped")]
    assert [Path(line["file"]).name for line in skipped] == ["claims.csv", "t.csv"]
    assert all(line["loaded_in_run"] == first["run_id"] for line in skipped)
    (load,) = [line for line in lines if line.get("stage") == "load" and "files" in line]
    assert (load["files_skipped"], load["rows_read"]) == (2, 0)

    html = (tmp_path / "out" / "report.html").read_text()
    assert f"already loaded in run {first['run_id']}, skipped" in html


def test_the_same_path_with_other_content_is_loaded_as_a_new_version(tmp_path, night1, capsys):
    claims, timelogs = night1
    first = audit(tmp_path, [claims], [timelogs], "--quiet")
    write_csv(claims, billed(2))
    second = audit(tmp_path, [claims], [timelogs])

    source = by_file(second)["claims.csv"]
    assert (source["status"], source["previous_version_run"]) == ("loaded", first["run_id"])
    assert (source["rows_read"], source["rows_changed"]) == (2, 1)
    note = f"new version of {claims}; previous version loaded in run {first['run_id']}"
    assert source["note"] == note
    assert note in capsys.readouterr().err
    assert note in (tmp_path / "out" / "report.html").read_text()
    assert second["findings"]["total"] == 0, "the corrected units are what is audited"


def test_an_earlier_content_given_again_after_a_new_version_is_loaded(tmp_path, night1):
    """A, then B, then A again under one path: the store holds B's values, so A is
    loaded again (a new version of the path), not skipped."""
    claims, timelogs = night1
    audit(tmp_path, [claims], [timelogs], "--quiet")
    write_csv(claims, billed(2))
    second = audit(tmp_path, [claims], [timelogs], "--quiet")
    write_csv(claims, OVERBILLED)
    third = audit(tmp_path, [claims], [timelogs], "--quiet")

    source = by_file(third)["claims.csv"]
    assert (source["status"], source["previous_version_run"]) == ("loaded", second["run_id"])
    assert source["rows_changed"] == 1
    assert third["findings"]["total"] == 1


def test_one_content_given_twice_in_a_run_is_loaded_once(tmp_path, night1):
    claims, timelogs = night1
    copy = write_csv(tmp_path / "claims-copy.csv", OVERBILLED)
    summary = audit(tmp_path, [claims, copy], [timelogs], "--quiet")
    inputs = by_file(summary)
    assert inputs["claims.csv"]["status"] == "loaded"
    assert inputs["claims-copy.csv"]["loaded_in_run"] == summary["run_id"]
    assert summary["totals"]["rows_read"] == len(OVERBILLED) + len(SEGMENTS)


def test_a_store_from_before_inputs_were_compared_still_loads_its_files(tmp_path, night1):
    """An earlier store's inputs have no status and no recorded scope: a file it loaded
    is loaded again (adding nothing) rather than skipped with an unknown scope."""
    claims, timelogs = night1
    db = tmp_path / "store.duckdb"
    checksum = hashlib.sha256(claims.read_bytes()).hexdigest()
    with duckdb.connect(str(db)) as con:
        con.execute(
            "CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP NOT NULL, "
            "loaded_at TIMESTAMP, flagged_at TIMESTAMP, config_source VARCHAR)"
        )
        con.execute("INSERT INTO runs VALUES ('old', now(), now(), now(), NULL)")
        con.execute(
            "CREATE TABLE run_inputs (run_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, "
            "source_file VARCHAR NOT NULL, checksum VARCHAR NOT NULL, rows_read BIGINT NOT NULL, "
            "rows_accepted BIGINT NOT NULL, rows_rejected BIGINT NOT NULL, "
            "rows_new BIGINT NOT NULL, rows_changed BIGINT NOT NULL)"
        )
        con.execute(
            "INSERT INTO run_inputs VALUES ('old', 'claims', ?, ?, 2, 2, 0, 2, 0)",
            [str(claims), checksum],
        )
    summary = audit(tmp_path, [claims], [timelogs], "--quiet")
    source = by_file(summary)["claims.csv"]
    assert (source["status"], source["note"], source["rows_read"]) == ("loaded", None, 2)
    assert summary["findings"]["total"] == 1


# Three nights on one store. Night 1: C1 overbills (3 units of 97110 on 23 minutes),
# so do C3 and C5, and the provider's one-on-one minutes overlap across two patients
# (a finding on a patient-day, with no claim line). Night 2: a replacement of C1 bills what
# the minutes support, C3 comes again unchanged (C5 does not come), the time log comes
# again, and C4 bills a code no time log documents (and leaves the logged code
# unbilled). Night 3: night 1's files again.
HOSTILE = "<b>P1</b>"
NIGHT2 = "2025-10-07"


def night1_rows() -> tuple[list[dict], list[dict]]:
    claims = [
        *billed(3, patient=HOSTILE, claim_id="C1"),
        claim("97110", 3, claim_id="C3", patient="P3"),
        claim("97110", 3, claim_id="C5", patient="P5"),
    ]
    timelogs = [
        *back_to_back(("97110", 23), ("97140", 15), patient=HOSTILE),
        *back_to_back(("97110", 23), patient="P3", start="10:00"),
        *back_to_back(("97110", 30), patient="P5", start="08:30"),
    ]
    return claims, timelogs


def night2_rows() -> tuple[list[dict], list[dict]]:
    claims = [
        *billed(2, patient=HOSTILE, claim_id="C1", frequency="7"),
        claim("97110", 3, claim_id="C3", patient="P3"),
        claim("97110", 1, claim_id="C4", patient="P4", date=NIGHT2),
    ]
    timelogs = [*night1_rows()[1], *back_to_back(("97140", 15), patient="P4", date=NIGHT2)]
    return claims, timelogs


@pytest.fixture
def nights(tmp_path: Path) -> list[tuple[dict, pl.DataFrame]]:
    """Each night's summary.json and findings.csv (in out1, out2, out3)."""
    exports = tmp_path / "exports"
    exports.mkdir()
    files = [
        (write_csv(exports / f"{n}-claims.csv", c), write_csv(exports / f"{n}-t.csv", t))
        for n, (c, t) in (("n1", night1_rows()), ("n2", night2_rows()))
    ]
    results = []
    for night, (claims, timelogs) in enumerate((*files, files[0]), 1):
        summary = audit(tmp_path, [claims], [timelogs], "--quiet", out=f"out{night}")
        results.append((summary, findings(tmp_path, f"out{night}")))
    return results


def statuses(found: pl.DataFrame) -> dict[tuple[str, str], str]:
    return {
        (row["rule_id"], row["claim_id"] or row["patient_id"]): row["status"]
        for row in found.iter_rows(named=True)
    }


def test_findings_are_new_still_open_or_no_longer_present_night_after_night(nights, tmp_path):
    (first, found1), (second, found2), (third, found3) = nights

    assert statuses(found1) == {
        ("UNITS_OVERBILLED", "C1"): "new",
        ("UNITS_OVERBILLED", "C3"): "new",
        ("UNITS_OVERBILLED", "C5"): "new",
        ("OVERLAP_ONE_ON_ONE", HOSTILE): "new",
    }
    assert first["changes"]["compared_with"] == []
    assert (first["changes"]["new"], first["changes"]["no_longer_present"]) == (4, 0)

    # Night 2: C1's replacement fixed its units; C3 and the overlap are as they were;
    # C5, not in this night's files, is neither reported nor gone;
    # C4's code has no time log, and its logged 97140 went unbilled.
    assert statuses(found2) == {
        ("UNITS_OVERBILLED", "C3"): "still_open",
        ("OVERLAP_ONE_ON_ONE", HOSTILE): "still_open",
        ("TIME_LOG_MISSING", "C4"): "new",
        ("UNITS_UNDERBILLED", "C4"): "new",
    }
    changes = second["changes"]
    assert changes["compared_with"] == [first["run_id"]]
    assert (changes["new"], changes["still_open"], changes["no_longer_present"]) == (2, 2, 1)
    assert changes["by_rule"]["UNITS_OVERBILLED"] == {
        "new": 0,
        "still_open": 1,
        "no_longer_present": 1,
    }
    assert changes["by_rule"]["TIME_LOG_MISSING"]["new"] == 1

    # Night 3, night 1's files again (skipped, same scope): C1 is judged by its
    # replacement and compared with night 2, which covered it last; C5 with night 1.
    assert {i["status"] for i in third["inputs"]} == {"skipped"}
    assert statuses(found3) == {
        ("UNITS_OVERBILLED", "C3"): "still_open",
        ("UNITS_OVERBILLED", "C5"): "still_open",
        ("OVERLAP_ONE_ON_ONE", HOSTILE): "still_open",
    }
    assert third["changes"]["compared_with"] == [first["run_id"], second["run_id"]]
    assert third["changes"]["no_longer_present"] == 0


def test_the_report_lists_the_findings_no_longer_present_escaped(nights, tmp_path):
    (first, found1), _, _ = nights
    html = (tmp_path / "out2" / "report.html").read_text()
    start = html.index('<section id="changes">')
    gone = html[html.index("<h3>No longer present</h3>", start) : html.index("</section>", start)]
    (c1,) = found1.filter(pl.col("claim_id") == "C1").iter_rows(named=True)
    assert gone.count("<tr class=") == 1
    assert "C1 / 1" in gone and first["run_id"] in gone
    assert "&lt;b&gt;P1&lt;/b&gt;" in gone and HOSTILE not in html
    assert str(escape(c1["message"])) in gone


def test_a_report_written_again_compares_the_same_and_status_is_the_last_column(nights, tmp_path):
    (_, _), (second, found2), _ = nights
    again = tmp_path / "again"
    args = ["report", "--run-id", second["run_id"], "--out", str(again)]
    assert main([*args, "--db", str(tmp_path / "store.duckdb"), "--quiet"]) == 0
    assert pl.read_csv(again / "findings.csv", infer_schema=False).equals(found2)
    assert json.loads((again / "summary.json").read_text())["changes"] == second["changes"]
    assert found2.columns[-3:] == ["payer", "units_at_risk", "status"]
    assert pl.read_parquet(again / "findings.parquet").columns == found2.columns


def test_findings_no_longer_present_are_pseudonymized_too(nights, tmp_path, monkeypatch):
    (_, _), (second, _), _ = nights
    monkeypatch.setenv("PTAUDIT_PSEUDONYM_KEY", "a key for the test")
    out = tmp_path / "pseudonymized"
    args = ["report", "--run-id", second["run_id"], "--out", str(out), "--pseudonymize"]
    assert main([*args, "--db", str(tmp_path / "store.duckdb"), "--quiet"]) == 0
    html = (out / "report.html").read_text()
    gone = html[html.index("<h3>No longer present</h3>") :]
    assert "C1 / 1" in gone[: gone.index("</table>")]
    assert "P1" not in html and "PX-" in gone[: gone.index("</table>")]


def report(tmp_path: Path, out: str, *extra: str) -> tuple[dict, pl.DataFrame, str]:
    """`python -m pipeline report` on the nights' store: summary, findings, report.html."""
    args = ["report", "--out", str(tmp_path / out), "--db", str(tmp_path / "store.duckdb")]
    assert main([*args, "--quiet", *extra]) == 0
    summary = json.loads((tmp_path / out / "summary.json").read_text())
    return summary, findings(tmp_path, out), (tmp_path / out / "report.html").read_text()


def keys(found: pl.DataFrame) -> set[tuple[str, str]]:
    return set(statuses(found))


def test_the_report_covers_the_whole_store_or_the_claims_since_a_date(nights, tmp_path):
    (_, _), (second, found2), _ = nights
    run = ("--run-id", second["run_id"])

    everything, found_all, html = report(tmp_path, "all", *run, "--all")
    assert everything["scope"] == {
        "kind": "all",
        "since": None,
        "description": "every claim in the store",
    }
    assert "Scope: every claim in the store" in html
    # C5 was only in night 1's files: the whole store brings it back, still open.
    assert keys(found_all) == keys(found2) | {("UNITS_OVERBILLED", "C5")}
    assert statuses(found_all)[("UNITS_OVERBILLED", "C5")] == "still_open"

    since, found_since, html = report(tmp_path, "since", *run, "--since", NIGHT2)
    assert (since["scope"]["kind"], since["scope"]["since"]) == ("since", NIGHT2)
    assert f"Scope: claims served on or after {NIGHT2}, across the whole store" in html
    # The same findings, with the same ids, as the whole store's on those days.
    on_night2 = found_all.filter(pl.col("service_date") >= NIGHT2)
    assert set(found_since["finding_id"]) == set(on_night2["finding_id"]) != set()
    assert since["audited"]["first_service_date"] == NIGHT2

    # A report with no scope option reports what the run was last flagged for; flag
    # without one goes back to the run's files, and the same findings and statuses.
    again, _, _ = report(tmp_path, "again", *run)
    assert again["scope"]["kind"] == "since"
    assert main(["flag", *run, "--db", str(tmp_path / "store.duckdb"), "--quiet"]) == 0
    files, found_files, html = report(tmp_path, "files", *run)
    assert files["scope"]["kind"] == "inputs"
    assert "Scope: the claims and patient-days of this run&#39;s files" in html
    assert found_files.equals(found2)


def test_audit_since_a_date_reports_the_store_from_that_date(nights, tmp_path):
    exports = tmp_path / "exports"
    summary = audit(
        tmp_path,
        [exports / "n2-claims.csv"],
        [exports / "n2-t.csv"],
        "--quiet",
        "--since",
        "2025-10-01",
        out="audit-since",
    )
    assert summary["scope"]["kind"] == "since"
    found = findings(tmp_path, "audit-since")
    assert ("UNITS_OVERBILLED", "C5") in keys(found)


@pytest.mark.parametrize("value", ["2025-13-01", "10/01/2025", "20251001", "yesterday"])
def test_a_bad_since_date_exits_2_with_one_line_before_any_work(tmp_path, capsys, value):
    db = tmp_path / "store.duckdb"
    args = ["audit", "--claims", "c.csv", "--timelogs", "t.csv", "--out", str(tmp_path / "o")]
    assert main([*args, "--db", str(db), "--since", value]) == 2
    assert capsys.readouterr().err == (
        f"ptaudit: error: --since {value}: not a date; give it as YYYY-MM-DD\n"
    )
    assert not db.exists()


def test_since_and_all_together_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--out", str(tmp_path), "--all", "--since", "2025-10-01"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_run_from_before_input_scopes_is_not_widened(tmp_path, night1, capsys):
    """A run loaded by an earlier version keeps its files' scope only in its scope rows
    (its inputs have no status): --all would lose it for good, so it exits 2."""
    first = audit(tmp_path, [night1[0]], [night1[1]], "--quiet")
    db = tmp_path / "store.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE run_inputs SET status = NULL")
    args = ["report", "--run-id", first["run_id"], "--out", str(tmp_path / "all"), "--all"]
    assert main([*args, "--db", str(db), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        f"ptaudit: error: run {first['run_id']} was loaded before each file's scope was kept; "
        "audit its files again in a new run for --since or --all\n"
    )
    with duckdb.connect(str(db)) as con:
        kept = con.execute(
            "SELECT scope, (SELECT count(*) FROM findings), "
            "(SELECT count(*) FROM run_scope_claims) FROM runs"
        ).fetchall()
    assert kept == [("inputs", 1, 1)], "the run is as it was"


def patients_audited(err: str) -> list[tuple[int, int]]:
    """What the flag stage logged of the patients its rules per patient ran for."""
    records = [json.loads(line) for line in err.splitlines()]
    return [
        (r["patients_audited"], r["patients_stored"]) for r in records if "patients_audited" in r
    ]


def in_scope(found: pl.DataFrame, claim_ids: pl.Series, days: pl.DataFrame) -> pl.DataFrame:
    """The findings on the claims, or (with no claim) on the patient-days."""
    on_day = pl.struct("patient_id", "service_date").is_in(days.to_struct().implode())
    return found.filter(
        pl.col("claim_id").is_in(claim_ids.implode()) | (pl.col("claim_id").is_null() & on_day)
    ).sort("finding_id")


@pytest.mark.parametrize("partition_rows", [1_000_000, 150], ids=["one share", "shares"])
def test_a_night_audits_its_own_patients_and_finds_what_the_whole_store_finds(
    tmp_path, capsys, partition_rows
):
    """Night 2 brings the last two weeks of some of the sample's patients; the rest of
    the sample, their history and every other patient's month, came on night 1. The
    rules per patient run for night 2's patients only, and find on its claims and
    patient-days exactly what the whole store's audit (--all) finds there; so does an
    audit of the last day (--since).

    Night 2's patients include P0039, overdue a progress report, but not P0037, the only
    patient whose time log marks a progress report: the rule still applies, since the
    store holds a mark."""
    config = tmp_path / "shares.toml"
    config.write_text(f"[store]\npartition_rows = {partition_rows}\n")
    claims, timelogs = (
        pl.read_csv(SAMPLE / name, infer_schema=False) for name in ("claims.csv", "timelogs.csv")
    )

    def night2(rows: pl.DataFrame) -> pl.Expr:
        number = pl.col("patient_id").str.slice(1).cast(pl.Int32, strict=False)
        return (
            (pl.col("service_date") >= "2025-10-20")
            & (number % 2 == 1)
            & (pl.col("patient_id") != "P0037")
        ).fill_null(False)

    nights = {}
    for night, keep in (("1", lambda r: ~night2(r)), ("2", night2)):
        nights[night] = [
            write_csv(tmp_path / f"{kind}_{night}.csv", rows.filter(keep(rows)).to_dicts())
            for kind, rows in (("claims", claims), ("timelogs", timelogs))
        ]
    files = {night: ([c], [t]) for night, (c, t) in nights.items()}
    options = ("--config", str(config), "--log-json")
    audit(tmp_path, *files["1"], *options, out="night1")
    capsys.readouterr()
    audit(tmp_path, *files["2"], *options, out="night2")
    stored = claims.get_column("patient_id").n_unique()
    night2_patients = claims.filter(night2(claims)).get_column("patient_id").n_unique()
    assert patients_audited(capsys.readouterr().err) == [(night2_patients, stored)]
    audit(tmp_path, *files["2"], *options, "--all", out="all")
    assert patients_audited(capsys.readouterr().err) == []  # every patient, unasked
    audit(tmp_path, *files["2"], *options, "--since", "2025-10-31", out="since")
    last_day = pl.col("service_date") == "2025-10-31"
    assert patients_audited(capsys.readouterr().err) == [
        (claims.filter(last_day).get_column("patient_id").n_unique(), stored)
    ]

    whole = findings(tmp_path, "all")
    night = findings(tmp_path, "night2").sort("finding_id")
    days = pl.concat(rows.filter(night2(rows)).select("patient_id", "service_date")
                     for rows in (claims, timelogs))  # fmt: skip
    expected = in_scope(whole, claims.filter(night2(claims)).get_column("claim_id"), days)
    assert night.drop("status").equals(expected.drop("status"))
    # A rule that reads history, the two that compare patients, and the progress report.
    assert {"PROGRESS_REPORT_OVERDUE", "OVERLAP_ONE_ON_ONE", "IMPOSSIBLE_DAY"} <= set(
        night.get_column("rule_id")
    )
    days = pl.concat(rows.filter(last_day).select("patient_id", "service_date")
                     for rows in (claims, timelogs))  # fmt: skip
    expected = in_scope(whole, claims.filter(last_day).get_column("claim_id"), days)
    since = findings(tmp_path, "since").sort("finding_id")
    assert since.drop("status").equals(expected.drop("status")) and since.height


def test_a_claim_replaced_under_another_patient_is_audited_for_that_patient(tmp_path, capsys):
    """Night 1 bills C1 for P1; night 2 replaces C1 under P2, who overbills, and brings
    P5. Flagged again, night 1's run still covers C1, whose lines in force are now P2's:
    its rules run for P1 and P2 (P2 found through C1's versions, not night 1's days),
    not P5, and find what the whole store's audit finds on C1."""
    day = "2025-10-06"
    night1 = write_csv(tmp_path / "c1.csv", billed(2, patient="P1"))
    night2 = write_csv(
        tmp_path / "c2.csv",
        [*billed(3, patient="P2", frequency="7"), claim("97110", 3, claim_id="C5", patient="P5")],
    )
    logs1 = write_csv(tmp_path / "t1.csv", back_to_back(("97110", 23), ("97140", 15), patient="P1"))
    logs2 = write_csv(
        tmp_path / "t2.csv",
        back_to_back(("97110", 23), ("97140", 15), patient="P2", start="10:00")
        + back_to_back(("97110", 30), patient="P5", start="13:00"),
    )
    first = audit(tmp_path, [night1], [logs1], "--quiet", out="night1")
    audit(tmp_path, [night2], [logs2], "--quiet", out="night2")
    db = str(tmp_path / "store.duckdb")
    args = ["--db", db, "--run-id", first["run_id"], "--log-json"]
    assert main(["flag", *args]) == 0
    assert patients_audited(capsys.readouterr().err) == [(2, 3)]
    assert main(["report", *args, "--out", str(tmp_path / "again")]) == 0
    again = findings(tmp_path, "again")
    assert again.select("rule_id", "claim_id", "patient_id").rows() == [
        ("UNITS_OVERBILLED", "C1", "P2")
    ]
    assert main(["report", *args, "--all", "--out", str(tmp_path / "all")]) == 0
    whole = findings(tmp_path, "all")
    on_night1 = in_scope(
        whole, pl.Series(["C1"]), pl.DataFrame({"patient_id": ["P1"], "service_date": [day]})
    )
    assert again.sort("finding_id").drop("status").equals(on_night1.drop("status"))
    assert whole.height > again.height  # C5's finding is the whole store's, not night 1's
