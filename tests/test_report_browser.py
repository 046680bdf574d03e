"""The report in a real headless Chromium (Debian's package, driven by Playwright with
its executable_path): it loads with no console error and no network request, the
filters and sorting work, and the print layout renders to PDF."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main
from tests.conftest import SAMPLE, Visit, needs_chromium

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    args = ["audit", "--claims", str(SAMPLE / "claims.csv"), "--timelogs"]
    args += [str(SAMPLE / "timelogs.csv"), "--db", str(tmp / "s.duckdb"), "--out", str(tmp)]
    assert main([*args, "--quiet"]) == 0
    return tmp / "report.html"


@pytest.fixture
def visit(browser, sample_report):
    opened = Visit(browser, sample_report)
    yield opened
    opened.page.close()


def test_the_page_loads_with_no_console_message_and_no_network_request(visit):
    assert visit.console == []
    assert visit.requests == [visit.url]
    assert visit.page.locator("h1").inner_text() == "Therapy claims audit"
    assert visit.page.locator("#charts svg").count() == 4
    # The script ran (the policy admitted it by its hash): the filter bar is shown.
    assert visit.page.locator(".filters").is_visible()


def test_filters_change_the_visible_rows(visit):
    total = visit.visible_rows()
    assert total == 26
    visit.page.select_option(".filters select >> nth=1", "UNITS_OVERBILLED")  # the rule filter
    assert visit.visible_rows() == 3
    assert set(visit.column(2)) == {"UNITS_OVERBILLED"}
    assert visit.page.locator(".filters output").inner_text() == f"3 of {total} shown"
    visit.page.select_option(".filters select >> nth=1", "")
    visit.page.select_option(".filters select >> nth=0", "medium")  # the severity filter
    assert set(visit.column(1)) == {"medium"}
    visit.page.select_option(".filters select >> nth=0", "")
    visit.page.fill(".filters input[type=date] >> nth=0", "2025-10-27")
    dates = visit.column(3)
    assert dates and all(d >= "2025-10-27" for d in dates if d)
    assert visit.visible_rows() < total


def test_clicking_a_header_sorts_the_rows(visit):
    block = visit.page.locator(".rule-block", has_text="UNITS_UNDER_8_MIN:")
    claims = block.locator("tbody td:nth-child(7)")
    block.locator("th", has_text="Claim / line").click()
    ascending = claims.all_text_contents()
    assert len(ascending) == 3 and ascending == sorted(ascending)
    block.locator("th", has_text="Claim / line").click()
    assert claims.all_text_contents() == sorted(ascending, reverse=True)


def test_the_page_works_without_javascript(browser, sample_report):
    page = browser.new_page(java_script_enabled=False)
    page.goto(sample_report.as_uri())
    assert page.locator("#findings table.findings tbody tr:visible").count() == 26
    assert page.locator(".filters").is_hidden()
    assert page.locator("#charts svg").count() == 4
    page.close()


def test_the_print_layout_breaks_between_sections(visit, tmp_path):
    visit.page.emulate_media(media="print")
    assert visit.page.locator(".filters").is_hidden()
    breaks = visit.page.eval_on_selector_all(
        "section", "s => s.map(e => getComputedStyle(e).breakBefore)"
    )
    assert breaks[0] == "auto" and set(breaks[1:]) == {"page"}
    pdf = tmp_path / "report.pdf"
    visit.page.pdf(path=str(pdf), format="Letter", print_background=True)
    content = pdf.read_bytes()
    assert content.startswith(b"%PDF")
    pages = content.count(b"/Type /Page") - content.count(b"/Type /Pages")
    assert pages > len(breaks)  # a page per section at least
    assert visit.console == []
