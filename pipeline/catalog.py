"""The rule catalog (rules/catalog.toml) with the run's configuration laid over it."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import Config
from pipeline.errors import UsageError

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
SEVERITIES = ("high", "medium", "low")
# What a finding's amount means: billed money the evidence does not support, revenue
# the practice left unbilled, or no amount at all (the finding is about something else).
MONEY_KINDS = ("at_risk", "missed", "none")
PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    citation: str
    description: str
    sql: str
    requires: tuple[str, ...]
    # A table of the run's claim lines the rule cannot judge (e.g. no time logs that day).
    unjudged: str | None
    # The rule compares patients with one another (one provider's patients), so it runs
    # once over every patient, not share by share (pipeline/shares.py).
    across_patients: bool
    payer_profiles: tuple[str, ...]
    params: dict[str, Any]
    enabled: bool
    money: str
    severity_configured: bool


@dataclass(frozen=True)
class Catalog:
    version: str
    checksum: str
    params: dict[str, Any]
    # Parameters a payer profile may set for its own payers (columns of payer_methods).
    profile_params: dict[str, Any]
    rules: tuple[Rule, ...]


def load_catalog(config: Config, rules_dir: Path = RULES_DIR) -> Catalog:
    path = rules_dir / "catalog.toml"
    raw = tomllib.loads(path.read_text())
    entries = raw.get("rule", [])
    known = {entry["id"] for entry in entries}
    unknown = sorted(set(config.rules) - known)
    if unknown:
        raise UsageError(f"{config.source}: [rules] names unknown rule ids: {', '.join(unknown)}")
    shared = {**raw.get("params", {}), **config.params}
    rules = tuple(_rule(entry, rules_dir, shared, config) for entry in entries)
    profile_params = raw.get("profile_params", {})
    for profile in config.payer_profiles:
        unknown = sorted(set(profile.params) - set(profile_params))
        if unknown:
            raise UsageError(
                f"{config.source}: payer profile {profile.name!r}: unknown params "
                f"{', '.join(unknown)} (known: {', '.join(profile_params) or 'none'})"
            )
    return Catalog(
        version=raw["version"],
        checksum=_tree_checksum(rules_dir),
        params=shared,
        profile_params=profile_params,
        rules=rules,
    )


def bind(sql: str, params: dict[str, Any], where: str) -> dict[str, Any]:
    """The parameters a SQL text uses ($name), each of which must be configured."""
    names = set(PARAMETER.findall(sql))
    missing = sorted(names - set(params))
    if missing:
        raise UsageError(f"{where}: parameter {', '.join(missing)} is not configured")
    return {name: params[name] for name in names}


def _rule(entry: dict[str, Any], rules_dir: Path, shared: dict[str, Any], config: Config) -> Rule:
    override = config.rules.get(entry["id"], {})
    _check_param_overrides(entry, override.get("params", {}), shared, config.source)
    severity = override.get("severity", entry["severity"])
    if severity not in SEVERITIES:
        raise UsageError(
            f"{config.source}: rule {entry['id']}: severity must be one of "
            f"{', '.join(SEVERITIES)}, not {severity!r}"
        )
    return Rule(
        id=entry["id"],
        title=entry["title"],
        severity=severity,
        citation=entry["citation"],
        description=" ".join(entry.get("description", "").split()),
        sql=(rules_dir / entry["sql"]).read_text(),
        requires=tuple(entry.get("requires", ())),
        unjudged=entry.get("unjudged"),
        across_patients=bool(entry.get("across_patients", False)),
        payer_profiles=tuple(entry.get("payer_profiles", ("*",))),
        params={**shared, **entry.get("params", {}), **override.get("params", {})},
        enabled=bool(override.get("enabled", True)),
        money=_money(entry),
        severity_configured="severity" in override,
    )


def _check_param_overrides(
    entry: dict[str, Any], overrides: dict[str, Any], shared: dict[str, Any], source: str
) -> None:
    """A rule-level override of a parameter the rule does not own would be ignored
    silently (shared ones feed the derived tables too): refuse it and say where it goes."""
    own = entry.get("params", {})
    for name in sorted(set(overrides) - set(own)):
        where = "set it under [params]" if name in shared else f"known: {', '.join(own) or 'none'}"
        raise UsageError(
            f"{source}: [rules.{entry['id']}.params] {name} is not a parameter "
            f"of that rule; {where}"
        )


def _money(entry: dict[str, Any]) -> str:
    money = entry.get("money", "at_risk")
    if money not in MONEY_KINDS:
        raise ValueError(
            f"rules/catalog.toml: rule {entry['id']}: money must be one of {MONEY_KINDS}"
        )
    return money


def _tree_checksum(rules_dir: Path) -> str:
    """One checksum over every rule and reference file: the rule set's version in force."""
    digest = hashlib.sha256()
    for path in sorted(p for p in rules_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(rules_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
