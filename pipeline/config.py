"""Run configuration: the bundled defaults, overlaid with the user's TOML file."""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError

DEFAULTS_PATH = Path(__file__).with_name("defaults.toml")
UNIT_METHODS = ("cms_total_time", "ama_per_code")


@dataclass(frozen=True)
class PayerProfile:
    name: str
    payers: tuple[str, ...]
    unit_method: str
    # Overrides of the catalog's [profile_params] for this profile's payers.
    params: dict[str, Any]

    def matches(self, payer: str) -> bool:
        return any(fnmatch.fnmatchcase(payer.upper(), p.upper()) for p in self.payers)


@dataclass(frozen=True)
class Config:
    payer_profiles: tuple[PayerProfile, ...]
    columns: dict[str, str]
    params: dict[str, Any]
    rules: dict[str, dict[str, Any]]
    report: dict[str, Any]
    store: dict[str, Any]
    source: str
    # CMS edit files that replace the bundled reference tables: "ncci_ptp" (a list of
    # paths) and "mue" (one path), each present only when configured.
    reference: dict[str, Any] = field(default_factory=dict)

    def profile_for(self, payer: str) -> PayerProfile | None:
        return next((p for p in self.payer_profiles if p.matches(payer)), None)


def load_config(path: Path | None = None) -> Config:
    """Read the defaults and, when given, the user's file laid over them."""
    raw = _read_toml(DEFAULTS_PATH)
    if path is not None:
        user = _read_toml(path)
        # Profiles are an ordered list where order decides matching: a user's list
        # replaces the default list whole instead of being merged into it.
        raw = _merge(raw, user)
    return _build(raw, source=str(path) if path else "bundled defaults")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _build(raw: dict[str, Any], source: str) -> Config:
    profiles = tuple(_profile(entry, source) for entry in raw.get("payer_profiles", []))
    if not profiles:
        raise UsageError(f"{source}: at least one [[payer_profiles]] entry is needed")
    columns = raw.get("columns", {})
    if not all(isinstance(v, str) for v in columns.values()):
        raise UsageError(f"{source}: [columns] maps an export header to a canonical column name")
    return Config(
        payer_profiles=profiles,
        columns=dict(columns),
        params=dict(raw.get("params", {})),
        rules={rule_id: dict(v) for rule_id, v in raw.get("rules", {}).items()},
        report=_report(raw.get("report", {}), source),
        store=_store(raw.get("store", {}), source),
        source=source,
        reference=_reference(raw.get("reference", {}), source),
    )


def _store(section: dict[str, Any], source: str) -> dict[str, Any]:
    for key, what in (
        ("batch_rows", "rows"),
        ("partition_rows", "rows"),
    ):
        _count(section, "store", key, what, source, least=1)
    return dict(section)


def _report(section: dict[str, Any], source: str) -> dict[str, Any]:
    for key, what in (
        ("max_findings_per_rule", "findings"),
        ("evidence_per_rule", "findings"),
        ("rejects_per_reason", "rows"),
    ):
        _count(section, "report", key, what, source, least=0)
    return dict(section)


def _count(
    section: dict[str, Any], name: str, key: str, what: str, source: str, *, least: int
) -> None:
    count = section.get(key)
    if not isinstance(count, int) or isinstance(count, bool) or count < least:
        raise UsageError(
            f"{source}: [{name}] {key} must be a whole number of {what}, {least} or more"
        )


REFERENCE_KEYS = ("ncci_ptp", "mue")


def _reference(section: Any, source: str) -> dict[str, Any]:
    """The [reference] section: CMS's PTP files (one path or a list) and MUE file.

    A relative path is taken from the configuration file's folder, so a practice can
    keep its CMS downloads beside its configuration.
    """
    if not isinstance(section, dict):
        raise UsageError(f"{source}: [reference] must be a table")
    unknown = sorted(set(section) - set(REFERENCE_KEYS))
    if unknown:
        raise UsageError(
            f"{source}: [reference] has unknown keys {', '.join(unknown)} "
            f"(known: {', '.join(REFERENCE_KEYS)})"
        )
    base = Path(source).parent if Path(source).is_file() else Path.cwd()
    reference: dict[str, Any] = {}
    ptp = section.get("ncci_ptp")
    if ptp is not None:
        paths = [ptp] if isinstance(ptp, str) else ptp
        if not paths or not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise UsageError(f"{source}: [reference] ncci_ptp must be a path or a list of paths")
        reference["ncci_ptp"] = [_existing(base / p, source, "ncci_ptp") for p in paths]
    mue = section.get("mue")
    if mue is not None:
        if not isinstance(mue, str):
            raise UsageError(f"{source}: [reference] mue must be one path")
        reference["mue"] = _existing(base / mue, source, "mue")
    return reference


def _existing(path: Path, source: str, key: str) -> Path:
    if not path.is_file():
        raise UsageError(f"{path}: file not found (named by [reference] {key} in {source})")
    return path


def _profile(entry: dict[str, Any], source: str) -> PayerProfile:
    name = entry.get("name")
    payers = entry.get("payers")
    method = entry.get("unit_method")
    if not name or not payers or not isinstance(payers, list):
        raise UsageError(f"{source}: each [[payer_profiles]] needs a name and a list of payers")
    if method not in UNIT_METHODS:
        raise UsageError(
            f"{source}: payer profile {name!r}: unit_method must be one of "
            f"{', '.join(UNIT_METHODS)}, not {method!r}"
        )
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise UsageError(f"{source}: payer profile {name!r}: params must be a table")
    return PayerProfile(name=name, payers=tuple(payers), unit_method=method, params=dict(params))
