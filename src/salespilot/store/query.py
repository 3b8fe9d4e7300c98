"""The store's tables as an Ibis backend, for the KPI layer."""

from __future__ import annotations

from typing import Any

import ibis


def ibis_backend(store: Any) -> ibis.BaseBackend:
    """An Ibis backend over ``store``'s own connection (same transaction view)."""
    own = getattr(store, "ibis", None)
    if callable(own):
        backend: ibis.BaseBackend = own()
        return backend
    store._con.execute("SET enable_progress_bar = false")  # the faces draw their own
    return ibis.duckdb.from_connection(store._con)


def dialect(store: Any) -> str:
    """The SQL dialect ``explain`` prints the KPIs' queries in."""
    return {"postgres": "postgres", "spark": "pyspark"}.get(str(getattr(store, "kind", "duckdb")), "duckdb")
