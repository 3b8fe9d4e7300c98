"""Lenses: what a query sees of the store.

Every reader of the canonical tables (KPIs, funnel, pipeline, forecast, team...) takes them
from ``ibis_backend(store).table(name)``. A lens changes what that call returns, for every
reader at once: the store as it stood on a past date (``AsOfLens``), or only the records a
user may see (``ScopeLens``). Applying the restriction here, where data is queried, rather
than in each page or command, is what makes every face obey it.

Lenses compose in order: ``with_lenses(store, as_of, scope)`` shows the past store, then
restricts it. A lensed store is a proxy over the same connection: it writes nothing, and
closing it does not close the store under it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, cast

import ibis
import ibis.expr.types as ir


class Lens(Protocol):
    """One transformation of the tables a query reads."""

    def apply(self, con: ibis.BaseBackend, name: str, table: ir.Table) -> ir.Table:
        """``table`` (the table ``name`` as the previous lenses left it) as this lens shows it.

        ``con`` is the store's own Ibis backend (no lens applied), for the tables a lens needs to
        look up (e.g. an opportunity's owner). A lens not concerned by ``name`` returns ``table``.
        """
        ...


class LensedBackend:
    """An Ibis backend whose ``table(name)`` goes through lenses; everything else is the backend's."""

    def __init__(self, con: ibis.BaseBackend, lenses: Iterable[Lens]) -> None:
        self._con = con
        self._lenses = tuple(lenses)

    def table(self, name: str, *args: Any, **kwargs: Any) -> ir.Table:
        table = self._con.table(name, *args, **kwargs)
        for lens in self._lenses:
            table = lens.apply(self._con, name, table)
        return table

    def beyond_scope(self) -> ibis.BaseBackend:
        """This backend without the lenses that narrow whose records are seen (``beyond_scope``)."""
        kept = [lens for lens in self._lenses if not getattr(lens, "narrows_records", False)]
        return cast(ibis.BaseBackend, LensedBackend(self._con, kept)) if kept else self._con

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._con, attr)


class LensedStore:
    """A store seen through lenses: same connection and contract, reads only."""

    def __init__(self, store: Any, lenses: Iterable[Lens]) -> None:
        base = store.base if isinstance(store, LensedStore) else store
        before = store.lenses if isinstance(store, LensedStore) else ()
        self._base = base
        self.lenses: tuple[Lens, ...] = (*before, *lenses)

    @property
    def base(self) -> Any:
        """The store under the lenses."""
        return self._base

    @property
    def read_only(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing: the store under the lenses belongs to whoever opened it."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._base, attr)


def with_lenses(store: Any, *lenses: Lens) -> LensedStore:
    """``store`` seen through ``lenses`` (after any it already has)."""
    return LensedStore(store, lenses)


def lenses_of(store: Any) -> tuple[Lens, ...]:
    found: tuple[Lens, ...] = getattr(store, "lenses", ())
    return found


def beyond_scope(con: ibis.BaseBackend) -> ibis.BaseBackend:
    """``con`` without the lenses that narrow whose records are seen (a user's scope, the filter
    bar's slice: ``narrows_records``), the others (as of a past date) kept.

    For the lookups that give a visible record its attributes, never for the records counted: a
    lead is converted if any opportunity came of it, whoever owns that opportunity; a deal's channel
    is its lead's, whoever owns the lead; an account is a new customer at its first win, whoever won
    it. So a rep's scope and the filter ``rep`` give the same figures (docs/access.md). The KPI
    layer, which may not import the store, calls the backend's own ``beyond_scope()``.
    """
    return con.beyond_scope() if isinstance(con, LensedBackend) else con


Owner = tuple[str, str | None]  # ("company", None), ("team", "North"), ("rep", "R0014")


def records_owner(store: Any) -> Owner | None:
    """Whose records the lenses of ``store`` show, for the targets they are held against: the
    company's (no lens narrows them), one rep's or one team's (a lens may say so with an
    ``owner()`` method); None when they are nobody's in particular (several reps with no team,
    one channel)."""
    owners: list[Owner | None] = []
    for lens in lenses_of(store):
        says = getattr(lens, "owner", None)
        if callable(says):
            owners.append(says())
    if any(owner is None for owner in owners):
        return None
    for kind in ("rep", "team"):
        for found in owners:
            if found is not None and found[0] == kind:
                return found
    return ("company", None)


def hidden_tables(store: Any) -> dict[str, str]:
    """The tables the lenses of ``store`` hide whole, each with the reason (a lens may say so with a
    ``hides()`` method): a KPI over such a table has no value there, rather than a 0."""
    hidden: dict[str, str] = {}
    for lens in lenses_of(store):
        hides = getattr(lens, "hides", None)
        if callable(hides):
            hidden |= hides()
    return hidden
