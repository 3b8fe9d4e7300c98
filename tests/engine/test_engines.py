"""One definition, three engines: the whole KPI catalogue gives the same rows on DuckDB,
PostgreSQL and Spark (a Parquet export), over the same company, in a time zone with daylight
saving so that local periods are exercised too."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import require_service

import salespilot
from salespilot.engine.workspace import Workspace
from salespilot.metrics.catalogue import load_catalogue

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")]

SPLITS = [("month", ()), ("quarter", ("channel",))]


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory, postgres_admin: Any) -> Iterator[dict[str, Workspace]]:
    from salespilot.store.spark import spark_unavailable

    reason = spark_unavailable()
    if reason is not None:
        require_service(reason)
    folder = tmp_path_factory.mktemp("engines")
    name = f"sp_engines_{folder.name[-8:].replace('-', '_')}"
    postgres_admin.execute(f'CREATE DATABASE "{name}"')
    server = postgres_admin.info
    url = f"postgresql://{server.user}@{server.host}:{server.port}/{name}"
    stores: dict[str, Workspace] = {}
    try:
        for engine, db in (("duckdb", str(folder / "store.duckdb")), ("postgres", url)):
            ws = salespilot.open(db)
            ws.demo("small", seed=5)
            ws.set_setting("timezone", "Europe/Paris")
            stores[engine] = ws
        stores["duckdb"].export_parquet(folder / "export")
        stores["spark"] = salespilot.open(f"spark:{folder / 'export'}")
        yield stores
    finally:
        for ws in stores.values():
            ws.close()
        postgres_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _names(grain: str, by: tuple[str, ...]) -> list[str]:
    catalogue = load_catalogue()
    return [
        k.name
        for k in catalogue.kpis.values()
        if set(by) <= set(k.dimensions) and (k.grains is None or grain in k.grains)
    ]


def _key(row: dict[str, Any], by: tuple[str, ...]) -> tuple[Any, ...]:
    return (row["kpi"], row["period"], *(str(row[d]) for d in by), row.get("periods_since"), row.get("stage"))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


@pytest.mark.parametrize(("grain", "by"), SPLITS)
def test_the_whole_catalogue_is_identical_on_three_engines(
    three: dict[str, Workspace], grain: str, by: tuple[str, ...]
) -> None:
    names = _names(grain, by)
    assert len(names) >= (30 if not by else 15)
    results: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for engine, ws in three.items():
        rows = ws.kpi(names, grain=grain, by=by, output="rows")
        results[engine] = {_key(r, by): r for r in rows}
        assert len(results[engine]) == len(rows), f"{engine}: duplicate keys"
    reference = results["duckdb"]
    assert {k[0] for k in reference} == set(names)
    assert any(r["value"] for r in reference.values())
    for engine in ("postgres", "spark"):
        other = results[engine]
        assert other.keys() == reference.keys(), f"{engine}: different rows"
        differences = [
            f"{engine} {key} {field}: {row.get(field)!r} vs duckdb {reference[key].get(field)!r}"
            for key, row in other.items()
            for field in set(row) | set(reference[key])
            if not _same(row.get(field), reference[key].get(field))
        ]
        assert not differences, "\n".join(differences[:20])


def test_spark_store_refuses_writes_with_a_clear_message(three: dict[str, Workspace], tmp_path: Path) -> None:
    from salespilot.errors import ParameterError

    spark = three["spark"]
    with pytest.raises(ParameterError, match=r"Parquet export read by Spark.*cannot import files"):
        spark.import_file(tmp_path / "leads.csv")
    assert spark.settings()["timezone"] == "Europe/Paris"
