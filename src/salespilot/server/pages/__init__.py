"""The dashboard's pages. Each page module defines ``PAGE``: its path, titles, texts and a
``build`` function that turns the user's (scoped, filtered) workspace into a ``View``: the HTML
content, the tables and the data. One view serves three faces:

* ``GET <path>``: the page (navigation, filter bar, content), in the user's language;
* ``GET /api/v1/pages/<name>``: the same view as JSON (its tables and data);
* ``GET /export/<name>/<table>.csv`` and ``.xlsx``: one of its tables for a spreadsheet.

A page may add routes of its own (forms that write) with ``routes(app, ctx)``.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI

from salespilot.engine.workspace import Workspace
from salespilot.errors import ParameterError
from salespilot.server.context import Context, Viewer
from salespilot.server.filters import PERIOD_QUERY, Filters
from salespilot.server.formats import colon
from salespilot.server.tables import Table


@dataclass
class View:
    content: str
    tables: list[Table] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    status: int = 200  # e.g. 400 when the page shows the user's input error beside its form


@dataclass(frozen=True)
class PageQuery:
    """What a page's ``build`` gets: the workspace as the user may see it, who they are, the filters."""

    ws: Workspace
    viewer: Viewer
    filters: Filters
    ctx: Context
    currency: str
    params: Mapping[str, str]  # the query string and the path's parameters

    @property
    def lang(self) -> str:
        return self.viewer.lang

    @property
    def t(self) -> dict[str, str]:
        return self.viewer.t

    @functools.cached_property
    def rep_names(self) -> dict[str, str]:
        """The reps the user may see, id -> name: read once per page, however many tables show reps."""
        return self.ws.rep_names()

    def export(self, table: str, page: str) -> str:
        return f"/export/{page}/{table}"


def choice(q: PageQuery, name: str, choices: tuple[str, ...], default: str) -> str:
    """The page's parameter ``name`` (``default`` when absent), one of ``choices`` or a
    ParameterError that names it."""
    value = q.params.get(name) or default
    if value not in choices:
        raise ParameterError(f"Parameter {name}: expected one of {', '.join(choices)} (got {value!r}).")
    return value


def switch(q: PageQuery, name: str, choices: tuple[str, ...], chosen: str, prefix: str) -> str:
    """Links to the other values of the page's parameter ``name`` (labelled ``t[prefix + value]``),
    keeping the filters and the page's other parameters."""
    kept = {k: v for k, v in q.params.items() if k != name}
    links = []
    for c in choices:
        text = html.escape(q.t[f"{prefix}{c}"])
        if c == chosen:
            links.append(f'<strong aria-current="true">{text}</strong>')
        else:
            links.append(f'<a href="?{html.escape(urlencode({**kept, name: c}))}">{text}</a>')
    return f'<p class="sp-switch" id="{name}">{q.t[name]}{colon(q.lang)}{" · ".join(links)}</p>'


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    title: dict[str, str]
    build: Callable[[PageQuery], View]
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    filters: tuple[str, ...] = ("rep", "team", "channel", "segment")
    periods: bool = True  # the filter bar offers grain, from and to (a page of the present: not)
    params: tuple[str, ...] = ()  # the page's own query parameters, kept when the filter bar is applied
    slice: bool = True  # apply the filters as a lens (pages whose engine calls take no filters)
    admin: bool = False  # only admins see it (and its link)
    cache: bool = True  # its view may be served again while nothing it depends on changed (server/cache.py)
    nav: bool = True
    routes: Callable[[FastAPI, Context], None] | None = None
    param_docs: Mapping[str, str] = field(default_factory=dict)  # its own query parameters, for the API reference

    def query_names(self) -> list[str]:
        """Every query parameter the page reads: the filter bar's, then its own."""
        names = [*(PERIOD_QUERY if self.periods and self.filters else ()), *self.filters, *self.params]
        return names + [name for name in self.param_docs if name not in names]


def registry() -> list[Page]:
    """Every page, in the navigation's order."""
    from salespilot.server.pages import (
        customers,
        forecast,
        funnel,
        imports,
        kpi,
        losses,
        overview,
        pipeline,
        planner,
        settings,
        team,
    )

    return [
        overview.PAGE,
        funnel.PAGE,
        pipeline.PAGE,
        forecast.PAGE,
        losses.PAGE,
        team.PAGE,
        customers.PAGE,
        planner.PAGE,
        imports.PAGE,
        settings.PAGE,
        kpi.PAGE,
    ]
