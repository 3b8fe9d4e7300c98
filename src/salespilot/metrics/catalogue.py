"""The KPI catalogue: definitions as data, validated before any query runs.

A KPI is one of these kinds:

- ``count``: rows of a source whose anchor date falls in the period (optionally filtered);
- ``sum``: the sum of a measure of those rows;
- ``rate``: numerator rows / denominator rows, both filters over the same rows; returned with
  its numerator, denominator and 95% Wilson interval. ``cohort: true`` marks rates over a cohort
  (rows created in the period, followed later), whose recent periods are immature;
- ``duration``: n, median, mean and 90th percentile of a measure in days (value = median);
- ``ratio``: one KPI divided by another on the same periods and dimensions (CAC = costs / new
  customers), no interval;
- ``custom``: computed by a named builder in Python (retention, cohorts), still declared here.

The built-in catalogue is ``catalogue.yaml`` beside this module; a user adds their own in a
YAML file of the same form (``salespilot kpi --catalogue FILE``).
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from salespilot.errors import ParameterError, UserInputError, did_you_mean
from salespilot.metrics.sources import SOURCES

DIMENSIONS = ("rep", "team", "channel", "campaign", "segment", "industry", "country", "product", "stage", "type")
UNITS = ("count", "rate", "currency", "days", "ratio", "months")
DIRECTIONS = ("up", "down")


class Kind(enum.StrEnum):
    COUNT = "count"
    SUM = "sum"
    RATE = "rate"
    DURATION = "duration"
    RATIO = "ratio"
    CUSTOM = "custom"


class CatalogueError(UserInputError):
    """A KPI definition is not valid."""


@dataclass(frozen=True)
class Filter:
    """Rows where each column's value is in the list (``null`` / ``not_null`` allowed)."""

    conditions: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def columns(self) -> list[str]:
        return [c for c, _ in self.conditions]


@dataclass(frozen=True)
class KPI:
    name: str
    kind: Kind
    label_en: str
    label_fr: str
    description: str
    unit: str
    direction: str
    dimensions: tuple[str, ...]
    source: str | None = None
    anchor: str | None = None
    measure: str | None = None
    where: Filter = field(default_factory=Filter)
    numerator: Filter | str | None = None  # a Filter (rate) or a KPI name (ratio)
    denominator: Filter | str | None = None
    cohort: bool = False
    builder: str | None = None
    grains: tuple[str, ...] | None = None  # None = every grain
    origin: str = "built-in"
    description_fr: str = ""  # empty: the English description is shown

    @property
    def additive(self) -> bool:
        return self.kind in (Kind.COUNT, Kind.SUM)

    @property
    def comparable(self) -> bool:
        """Whether the engine sets its value beside the previous period's and the year before's: every
        KPI it computes itself (a custom builder gives its own, e.g. ARPA's previous)."""
        return self.kind is not Kind.CUSTOM

    def label(self, language: str) -> str:
        return self.label_fr if language == "fr" else self.label_en

    def describe(self, language: str) -> str:
        """The definition in ``language`` (English where no French one is given)."""
        return self.description_fr if language == "fr" and self.description_fr else self.description


class Catalogue:
    """Validated KPI definitions by name."""

    def __init__(self, kpis: list[KPI]) -> None:
        self.kpis: dict[str, KPI] = {}
        for kpi in kpis:
            if kpi.name in self.kpis:
                raise CatalogueError(f'KPI "{kpi.name}" is defined twice ({self.kpis[kpi.name].origin}, {kpi.origin}).')
            self.kpis[kpi.name] = kpi
        for kpi in kpis:
            if kpi.kind is Kind.RATIO:
                for part in (kpi.numerator, kpi.denominator):
                    assert isinstance(part, str)
                    if part not in self.kpis:
                        raise CatalogueError(
                            f'{kpi.origin}: KPI "{kpi.name}" divides by or refers to "{part}", which is not a KPI.'
                            f"{did_you_mean(part, self.kpis)}"
                        )
                    if self.kpis[part].kind is Kind.RATIO:
                        raise CatalogueError(f'{kpi.origin}: KPI "{kpi.name}": a ratio cannot use the ratio "{part}".')

    def get(self, name: str) -> KPI:
        if name not in self.kpis:
            raise ParameterError(
                f'"{name}" is not a KPI.{did_you_mean(name, self.kpis)} See the list with: salespilot kpi --list'
            )
        return self.kpis[name]

    def names(self) -> list[str]:
        return list(self.kpis)


def builtin_text() -> str:
    return (resources.files("salespilot.metrics") / "catalogue.yaml").read_text(encoding="utf-8")


def load_catalogue(extra: str | Path | None = None) -> Catalogue:
    """The built-in catalogue, plus the user's definitions in ``extra`` (a YAML file)."""
    kpis = parse(builtin_text(), "built-in catalogue")
    if extra is not None:
        path = Path(extra)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogueError(f"KPI file {path} cannot be read: {exc}.") from None
        kpis += parse(text, str(path))
    return Catalogue(kpis)


def parse(text: str, origin: str) -> list[KPI]:
    """The KPIs defined in ``text``. Parsed once per text: every KPI call reads the catalogue, and
    parsing its YAML took about 80 ms of a 400 ms overview (benchmarks/README.md, "Server load")."""
    return list(_parse(text, origin))


@functools.lru_cache(maxsize=32)  # the definitions are frozen, so the same ones can be shared
def _parse(text: str, origin: str) -> tuple[KPI, ...]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{origin} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("kpis"), list):
        raise CatalogueError(f"{origin} must be YAML with a list under 'kpis:'.")
    return tuple(_kpi(entry, origin, i) for i, entry in enumerate(data["kpis"], start=1))


_KEYS = {
    "name", "kind", "label", "description", "unit", "direction", "dimensions", "source", "anchor", "measure",
    "where", "numerator", "denominator", "cohort", "builder", "grains",
}  # fmt: skip


def _kpi(entry: Any, origin: str, index: int) -> KPI:
    if not isinstance(entry, dict) or "name" not in entry:
        raise CatalogueError(f"{origin}: KPI number {index} must be a mapping with at least a name.")
    name = str(entry["name"])
    where = f'{origin}: KPI "{name}"'
    for key in entry:
        if key not in _KEYS:
            raise CatalogueError(f'{where}: unknown key "{key}".{did_you_mean(str(key), _KEYS)}')
    try:
        kind = Kind(str(entry.get("kind")))
    except ValueError:
        raise CatalogueError(f"{where}: kind must be one of {', '.join(k.value for k in Kind)}.") from None
    label = entry.get("label") or {}
    if not isinstance(label, dict) or not label.get("en") or not label.get("fr"):
        raise CatalogueError(f"{where}: label needs an English and a French text: label: {{en: ..., fr: ...}}.")
    unit = str(entry.get("unit", ""))
    if unit not in UNITS:
        raise CatalogueError(f"{where}: unit must be one of {', '.join(UNITS)}.{did_you_mean(unit, UNITS)}")
    direction = str(entry.get("direction", "up"))
    if direction not in DIRECTIONS:
        raise CatalogueError(f"{where}: direction must be up (higher is better) or down.")
    dims = tuple(entry.get("dimensions") or ())
    for dim in dims:
        if dim not in DIMENSIONS:
            raise CatalogueError(f'{where}: "{dim}" is not a dimension.{did_you_mean(str(dim), DIMENSIONS)}')
    grains = entry.get("grains")
    description, description_fr = _description(entry.get("description", ""), where)
    kpi = KPI(
        name=name,
        kind=kind,
        label_en=str(label["en"]),
        label_fr=str(label["fr"]),
        description=description,
        description_fr=description_fr,
        unit=unit,
        direction=direction,
        dimensions=dims,
        source=entry.get("source"),
        anchor=entry.get("anchor"),
        measure=entry.get("measure"),
        where=_filter(entry.get("where"), where, "where"),
        numerator=_part(entry.get("numerator"), kind, where, "numerator"),
        denominator=_part(entry.get("denominator"), kind, where, "denominator"),
        cohort=bool(entry.get("cohort", False)),
        builder=entry.get("builder"),
        grains=tuple(grains) if grains else None,
        origin=origin,
    )
    _check_source(kpi, where)
    return kpi


def _description(value: Any, where: str) -> tuple[str, str]:
    """``description:`` is a text (English) or ``{en: ..., fr: ...}``; returns (English, French or "")."""
    if isinstance(value, dict):
        unknown = [str(k) for k in value if k not in ("en", "fr")]
        if unknown or not value.get("en"):
            raise CatalogueError(f"{where}: description is a text, or {{en: ..., fr: ...}} with an English text.")
        return str(value["en"]).strip(), str(value.get("fr") or "").strip()
    if value is None or isinstance(value, (list, bool)):
        raise CatalogueError(f"{where}: description is a text, or {{en: ..., fr: ...}} with an English text.")
    return str(value).strip(), ""


def _part(value: Any, kind: Kind, where: str, key: str) -> Filter | str | None:
    if kind is Kind.RATIO:
        if not isinstance(value, str):
            raise CatalogueError(f"{where}: a ratio's {key} is the name of another KPI.")
        return value
    if kind is Kind.RATE:
        return _filter(value, where, key)
    if value is not None:
        raise CatalogueError(f"{where}: only rate and ratio KPIs have a {key}.")
    return None


def _filter(value: Any, where: str, key: str) -> Filter:
    if value is None:
        return Filter()
    if not isinstance(value, dict):
        raise CatalogueError(f"{where}: {key} must map columns to allowed values, e.g. {{outcome: [won, lost]}}.")
    conditions = []
    for column, allowed in value.items():
        values = allowed if isinstance(allowed, list) else [allowed]
        conditions.append((str(column), tuple(values)))
    return Filter(tuple(conditions))


def _check_source(kpi: KPI, where: str) -> None:
    if kpi.kind is Kind.RATIO:
        return
    if kpi.kind is Kind.CUSTOM:
        if not kpi.builder:
            raise CatalogueError(f"{where}: a custom KPI names its builder.")
        return
    if kpi.source not in SOURCES:
        raise CatalogueError(
            f'{where}: source "{kpi.source}" is not a source.{did_you_mean(str(kpi.source), SOURCES)} '
            f"Sources: {', '.join(SOURCES)}."
        )
    source = SOURCES[kpi.source]
    if kpi.anchor not in source.anchors:
        raise CatalogueError(
            f'{where}: anchor "{kpi.anchor}" is not a date of {kpi.source}. Dates: {", ".join(source.anchors)}.'
        )
    for dim in kpi.dimensions:
        if dim not in source.dimensions:
            raise CatalogueError(f'{where}: source {kpi.source} has no dimension "{dim}".')
    if kpi.kind in (Kind.SUM, Kind.DURATION) and kpi.measure not in source.measures:
        raise CatalogueError(
            f'{where}: measure "{kpi.measure}" is not a measure of {kpi.source}. '
            f"Measures: {', '.join(source.measures)}."
        )
    filters = [kpi.where]
    if kpi.kind is Kind.RATE:
        filters += [p for p in (kpi.numerator, kpi.denominator) if isinstance(p, Filter)]
    for f in filters:
        for column in f.columns():
            if column not in source.columns:
                raise CatalogueError(
                    f'{where}: filter column "{column}" is not a column of {kpi.source}.'
                    f"{did_you_mean(column, source.columns)}"
                )
