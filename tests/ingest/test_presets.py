"""The built-in mapping presets: each loads, fits the header of a sample export, and maps values right.

The samples in tests/data/presets/ are small invented exports with the headers each CRM writes.
Headers are read with the csv module, so these tests do not depend on the file readers.
"""

from __future__ import annotations

import csv
import re
from importlib import resources
from pathlib import Path

import pytest

from salespilot.ingest.mapping import ColumnSpec, Mapping, load_mapping, preset_names, resolve
from salespilot.model import TABLES, ActivityType, Outcome

ROOT = Path(__file__).parent.parent.parent
SAMPLES = ROOT / "tests" / "data" / "presets"
DOCS = ROOT / "docs" / "mappings.md"

PRESETS: dict[str, str] = {
    "hubspot-deals": "opportunities",
    "hubspot-companies": "accounts",
    "hubspot-activities": "activities",
    "pipedrive-deals": "opportunities",
    "pipedrive-organizations": "accounts",
    "pipedrive-activities": "activities",
    "salesforce-opportunities": "opportunities",
    "salesforce-accounts": "accounts",
    "salesforce-activities": "activities",
}
DEALS = sorted(name for name, table in PRESETS.items() if table == "opportunities")
ACTIVITIES = sorted(name for name, table in PRESETS.items() if table == "activities")


def sample_header(name: str) -> list[str]:
    with (SAMPLES / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return next(csv.reader(f))


def sample_rows(name: str) -> list[dict[str, str]]:
    with (SAMPLES / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _token(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def mapped_value(spec: ColumnSpec, raw: str) -> str:
    """What a values map makes of ``raw``: exact match, then case and spacing ignored, else unchanged."""
    values = spec.values or {}
    if raw in values:
        return values[raw]
    for source, target in values.items():
        if _token(source) == _token(raw):
            return target
    return raw


def resolved(name: str) -> tuple[Mapping, dict[str, ColumnSpec]]:
    mapping = load_mapping(name)
    assert mapping.table is not None
    return mapping, resolve(mapping, TABLES[mapping.table], sample_header(name), "sample.csv")


def test_preset_names_lists_all_nine() -> None:
    assert set(PRESETS) <= set(preset_names())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_loads_for_its_table(name: str) -> None:
    mapping = load_mapping(name)
    assert mapping.origin == f"preset {name}"
    assert mapping.table == PRESETS[name]
    assert mapping.columns


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_starts_with_a_comment_block(name: str) -> None:
    text = (resources.files("salespilot.ingest") / "presets" / f"{name}.yaml").read_text(encoding="utf-8")
    first_lines = text.splitlines()[:3]
    assert all(line.startswith("#") for line in first_lines), first_lines


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_resolves_against_the_header_of_its_sample(name: str) -> None:
    mapping, specs = resolved(name)
    header = sample_header(name)
    assert set(TABLES[PRESETS[name]].required) <= set(specs)
    for spec in specs.values():
        if spec.source is not None:
            assert spec.source in header, f"{name}: the sample should have the exact header {spec.source!r}"
    assert set(specs) == set(mapping.columns)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_value_maps_only_give_canonical_values(name: str) -> None:
    mapping = load_mapping(name)
    table = TABLES[PRESETS[name]]
    for canonical, spec in mapping.columns.items():
        column = table.column(canonical)
        if spec.values and column.enum is not None:
            targets = {value for value in spec.values.values() if value != ""}
            assert targets <= set(column.enum), f"{name}.{canonical}: {targets - set(column.enum)}"


@pytest.mark.parametrize("name", DEALS)
def test_sample_deals_map_to_open_won_and_lost(name: str) -> None:
    _, specs = resolved(name)
    outcome, closed_at, created_at = specs["outcome"], specs["closed_at"], specs["created_at"]
    assert outcome.source is not None and closed_at.source is not None and created_at.source is not None
    outcomes = []
    for row in sample_rows(name):
        value = mapped_value(outcome, row[outcome.source])
        assert value in {o.value for o in Outcome}, f"{name}: stage {row[outcome.source]!r} is not mapped"
        assert row[created_at.source], f"{name}: created_at is required"
        if value in ("won", "lost"):
            assert row[closed_at.source], f"{name}: a {value} deal needs its close date"
        outcomes.append(value)
    assert set(outcomes) == {"open", "won", "lost"}


@pytest.mark.parametrize("name", DEALS)
def test_every_default_closed_stage_is_mapped(name: str) -> None:
    outcome = load_mapping(name).columns["outcome"]
    assert outcome.values is not None
    assert {"won", "lost", "open"} <= set(outcome.values.values())


@pytest.mark.parametrize("name", ACTIVITIES)
def test_sample_activity_types_map_to_canonical_types(name: str) -> None:
    _, specs = resolved(name)
    kind = specs["type"]
    assert kind.source is not None
    types = {mapped_value(kind, row[kind.source]) for row in sample_rows(name)}
    assert types <= {t.value for t in ActivityType}
    assert {"call", "email", "meeting"} <= types


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_docs_describe_every_preset_and_its_columns(name: str) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert f"`{name}`" in docs
    for spec in load_mapping(name).columns.values():
        if spec.source is not None:
            assert spec.source in docs, f"docs/mappings.md does not name {spec.source!r} of {name}"
