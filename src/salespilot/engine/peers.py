"""The view a user's records are compared in: the whole company's, as far as comparing goes.

A rep sees only their own deals, but a rank "1 of 1", a top quartile of one, or a "stuck"
threshold learnt from their own few deals would be a wrong figure, not a private one. So the
benchmarks (the team's ranks, peers and top quartile, the pipeline's stuck thresholds) are
computed over ``peers_store``: the store without the lenses that narrow *whose* records are
seen (a user's scope, the filter bar's rep and team), with those that narrow *which* records
(a channel, a segment, a past date) kept, so that a rep's smb revenue is ranked among the smb
revenue of the others. The engine then returns the rows of the visible reps and deals only
(``visible_reps``, ``visible_deals``): a rep learns where they stand and what the top quartile
does, never another rep's figures (docs/access.md)."""

from __future__ import annotations

from typing import Any

from salespilot.store.lens import Lens, LensedStore, lenses_of, with_lenses
from salespilot.store.query import ibis_backend
from salespilot.store.scope import ScopeLens
from salespilot.store.slice import SliceLens


def peers_store(store: Any) -> Any:
    """``store`` without the scope and the rep/team filters (read-only when it had lenses)."""
    if not isinstance(store, LensedStore):
        return store
    kept: list[Lens] = []
    for lens in lenses_of(store):
        if isinstance(lens, ScopeLens):
            continue
        if isinstance(lens, SliceLens):
            narrowed = SliceLens(channel=lens.channel, segment=lens.segment)
            if not narrowed.empty:
                kept.append(narrowed)
            continue
        kept.append(lens)
    return with_lenses(store.base, *kept)


def narrowed(store: Any) -> bool:
    """Whether ``store`` shows fewer reps than its peers view (a scope, a rep or team filter)."""
    return any(
        isinstance(lens, ScopeLens) or (isinstance(lens, SliceLens) and bool(lens.rep or lens.team))
        for lens in lenses_of(store)
    )


def visible_reps(store: Any) -> set[str]:
    """The ids of the reps ``store`` shows."""
    table = ibis_backend(store).table("reps").select("rep_id").to_pyarrow()
    return {str(v) for v in table.column("rep_id").to_pylist()}


def visible_deals(store: Any) -> set[str]:
    """The ids of the opportunities ``store`` shows."""
    table = ibis_backend(store).table("opportunities").select("opportunity_id").to_pyarrow()
    return {str(v) for v in table.column("opportunity_id").to_pylist()}
