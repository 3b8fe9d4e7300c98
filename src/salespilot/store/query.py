"""The store's tables as an Ibis backend, for the KPI layer."""

from __future__ import annotations

from typing import Any, cast

import ibis

from salespilot.store.lens import LensedBackend, lenses_of


def ibis_backend(store: Any) -> ibis.BaseBackend:
    """An Ibis backend over ``store``'s own connection (same transaction view).

    When ``store`` is seen through lenses (``store.lens``), ``table(name)`` returns the table
    as the lenses show it: as of a past date, or restricted to what a user may see.
    """
    own = getattr(store, "ibis", None)
    if callable(own):
        backend: ibis.BaseBackend = own()
    else:
        store._con.execute("SET enable_progress_bar = false")  # the faces draw their own
        backend = ibis.duckdb.from_connection(store._con)
    found = lenses_of(store)
    if found:
        return cast(ibis.BaseBackend, LensedBackend(backend, found))
    return backend


def dialect(store: Any) -> str:
    """The SQL dialect ``explain`` prints the KPIs' queries in."""
    return {"postgres": "postgres", "spark": "pyspark"}.get(str(getattr(store, "kind", "duckdb")), "duckdb")
