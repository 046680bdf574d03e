"""report.html: one self-contained page, safe to open offline and to forward.

Everything is inline (style, script, SVG charts); the Content-Security-Policy forbids
every network load and admits the page's own style and script by their SHA-256 hashes
only, so neither an injected tag nor a stray link can fetch anything. Every value goes
through jinja2's autoescape.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import polars as pl
from markupsafe import Markup

from pipeline.catalog import Catalog
from pipeline.config import Config
from reports import charts, measures, sections
from reports.evidence import Evidence

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Limits:
    """How much of a run the page embeds ([report] in the configuration): the page
    must open quickly however many findings there are; the files hold them all."""

    findings_per_rule: int
    evidence_per_rule: int
    rejects_per_reason: int

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        return cls(
            findings_per_rule=int(config.report["max_findings_per_rule"]),
            evidence_per_rule=int(config.report["evidence_per_rule"]),
            rejects_per_reason=int(config.report["rejects_per_reason"]),
        )


def first_per_rule(findings: pl.DataFrame, count: int) -> pl.DataFrame:
    """The first `count` findings of each rule, in the findings' order."""
    return findings.filter(pl.int_range(pl.len()).over("rule_id") < count)


def render(
    summary: dict[str, Any],
    findings: pl.DataFrame,
    shown: pl.DataFrame,
    gone: pl.DataFrame,
    evidence: Evidence,
    provider_units: pl.DataFrame,
    rejects: pl.DataFrame,
    catalog: Catalog,
    config: Config,
) -> str:
    limits = Limits.from_config(config)
    with_evidence = first_per_rule(shown, limits.evidence_per_rule)
    gone_shown = first_per_rule(gone, limits.findings_per_rule)
    keys = sections.day_keys(with_evidence)
    stylesheet = Markup((TEMPLATES / "report.css").read_text())
    script = Markup((TEMPLATES / "report.js").read_text())
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            summary=summary,
            rules={rule.id: rule for rule in catalog.rules},
            severities=measures.by_severity(findings),
            payers=measures.at_risk_by_payer(findings, catalog).to_dicts(),
            charts={
                "at_risk_by_rule": _at_risk_chart(summary),
                "by_week": _weekly_chart(findings),
                **sections.provider_charts(provider_units),
            },
            providers=sections.providers(findings, with_evidence, provider_units, catalog),
            patients=sections.patient_episodes(shown, evidence, keys),
            # In the findings' order (severity, then rule): `order` keeps it per rule table.
            findings=[
                {**row, "order": i, "evidence": keys.get((row["patient_id"], row["service_date"]))}
                for i, row in enumerate(shown.iter_rows(named=True))
            ],
            hidden=_hidden_per_rule(findings, shown),
            gone=gone_shown.to_dicts(),
            gone_hidden=_hidden_per_rule(gone, gone_shown),
            days=sections.evidence_days(shown, evidence, keys, catalog),
            rejects=sections.rejects_by_reason(rejects, limits.rejects_per_reason),
            catalog=sections.rule_catalog(catalog),
            shared_params={k: sections.format_param(v) for k, v in catalog.params.items()},
            profiles=sections.payer_profiles(catalog, config),
            limits=limits,
            stylesheet=stylesheet,
            script=script,
            csp=_content_security_policy(stylesheet, script),
        )
    )


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["usd"] = lambda v: "unpriced" if v is None else f"${float(v):,.2f}"
    environment.filters["count"] = lambda v: f"{int(v):,}"
    return environment


def _content_security_policy(stylesheet: str, script: str) -> Markup:
    # Our own text, with no double quote in it: safe to put in the attribute as it is.
    return Markup(
        "default-src 'none'; "
        f"style-src {_hash(stylesheet)}; script-src {_hash(script)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def _hash(text: str) -> str:
    """The CSP source for an inline element's exact text."""
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def _at_risk_chart(summary: dict[str, Any]) -> Markup | None:
    priced = [
        charts.Bar(rule_id, (result["amount_at_risk"],), f"({result['findings']:,})")
        for rule_id, result in summary["findings"]["by_rule"].items()
        if result["money"] == "at_risk" and result["amount_at_risk"] > 0
    ]
    if not priced:
        return None
    priced.sort(key=lambda bar: -bar.values[0])
    return charts.bar_chart(
        priced, ("at risk",), lambda v: f"${v:,.0f}", "Dollars at risk by rule (findings)"
    )


def _weekly_chart(findings: pl.DataFrame) -> Markup | None:
    weekly = measures.by_week(findings)
    if weekly.is_empty():
        return None
    columns = [(f"{row[0]:%b %d}", row[1:]) for row in weekly.iter_rows()]
    return charts.column_chart(columns, weekly.columns[1:], "Findings by week of service")


def _hidden_per_rule(findings: pl.DataFrame, shown: pl.DataFrame) -> dict[str, int]:
    """Findings of each rule left out of the page (they are in the findings files)."""
    total = dict(findings.group_by("rule_id").len().iter_rows())
    embedded_counts = dict(shown.group_by("rule_id").len().iter_rows())
    return {
        rule_id: count - embedded_counts.get(rule_id, 0)
        for rule_id, count in total.items()
        if count > embedded_counts.get(rule_id, 0)
    }
