"""The one application object: every face (CLI, Python API, later the server) goes through it."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from salespilot.analytics.cycle import group_stuck
from salespilot.engine import access, importing, kpis, peers, planning
from salespilot.engine import comp as comp_engine
from salespilot.engine import forecast as forecast_engine
from salespilot.engine import funnel as funnel_engine
from salespilot.engine import losses as losses_engine
from salespilot.engine import pipeline as pipeline_engine
from salespilot.engine import targets as targets_engine
from salespilot.engine import team as team_engine
from salespilot.engine.demo import load_demo
from salespilot.errors import InternalError, NotFound, ParameterError, QueryError
from salespilot.ingest.mapping import Mapping
from salespilot.settings import SETTINGS, parse_stage_order, validate
from salespilot.store import export as store_export
from salespilot.store import settings as store_settings
from salespilot.store.asof import AsOfLens
from salespilot.store.connection import open_store
from salespilot.store.lens import Lens, LensedStore, with_lenses
from salespilot.store.migrations import migrate
from salespilot.store.slice import SLICE_DIMS, SliceLens
from salespilot.store.status import status

SPARK_PREFIX = "spark:"


class Workspace:
    """A SalesPilot store and everything done with it.

    ``Workspace(db)`` opens (and creates or upgrades) the store ``db``: a path to a DuckDB
    file, a ``postgresql://USER@HOST:PORT/DATABASE`` URL, or ``spark:DIR`` for a Parquet export
    read by Apache Spark (KPIs only); ``None`` means ``SALESPILOT_DB`` or ``./salespilot.duckdb``.
    """

    def __init__(self, db: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> None:
        spec = os.fspath(db) if db is not None else ""
        self.engine_only = spec.startswith(SPARK_PREFIX)
        if self.engine_only:
            # A Parquet export read by Spark: the same KPIs on a distributed engine, read-only.
            from salespilot.store.spark import open_spark_store

            self.store: Any = open_spark_store(spec[len(SPARK_PREFIX) :])
            return
        self.store = open_store(db, read_only=read_only)
        try:
            migrate(self.store)
        except BaseException:
            self.store.close()
            raise

    def _writable_store(self, action: str) -> None:
        if isinstance(self.store, LensedStore) and action in _WRITES:
            raise ParameterError(
                f"This view of {self.store.label} (as of a date, or restricted to a user's records) is read-only: "
                f"it cannot {action}. Open the workspace itself to do it."
            )
        if self.engine_only:
            raise ParameterError(
                f"{self.store.label} is a Parquet export read by Spark: it computes KPIs but cannot {action}. "
                "Use the DuckDB or PostgreSQL store (--db), then 'salespilot export --parquet DIR' again."
            )

    @property
    def path(self) -> Path | str:
        """The store's file; for a PostgreSQL store, its URL without the password."""
        path: Path | None = self.store.path
        return path if path is not None else str(self.store.label)

    @property
    def label(self) -> str:
        """The store as messages name it: a path, or a URL without the password."""
        return str(self.store.label)

    # -- data in ---------------------------------------------------------------------------
    def import_file(
        self,
        path: str | os.PathLike[str],
        table: str | None = None,
        mapping: str | os.PathLike[str] | Mapping | dict[str, Any] | None = None,
        progress: importing.Progress | None = None,
        exported_at: dt.datetime | str | None = None,
        name: str | None = None,
    ) -> importing.ImportResult:
        """Import one file (CSV, XLSX, Parquet, JSON, NDJSON) into a canonical table.

        ``exported_at`` (UTC): when the export was taken; the changes of opportunities it brings
        (stage, outcome, amount, expected close date) are recorded in the history at that time
        (default: now). Importing successive exports in order builds the history ``as_of`` reads.

        ``mapping``: a mapping file, a preset's name, a ``Mapping``, or a dict holding what a
        mapping file holds (``{"table": ..., "columns": {canonical: source, ...}, "options": ...}``).
        ``name``: what the import log records as the file (default: its path)."""
        self._writable_store("import files")
        mapping_ref = _mapping_ref(mapping)
        when = _instant(exported_at) if exported_at is not None else None
        return importing.import_file(self.store, Path(path), table, mapping_ref, progress, now=when, name=name)

    def preview_file(
        self,
        path: str | os.PathLike[str],
        table: str | None = None,
        mapping: str | os.PathLike[str] | Mapping | dict[str, Any] | None = None,
        rows: int = 20,
    ) -> dict[str, Any]:
        """What importing ``path`` would land, without writing: table, column mapping, the first
        ``rows`` rows as they would land and the problems of the first batch (``mapping`` as for
        ``import_file``)."""
        return importing.preview_file(self.store, Path(path), table, _mapping_ref(mapping), rows)

    @staticmethod
    def inspect_file(path: str | os.PathLike[str], table: str | None = None) -> dict[str, Any]:
        """A file before any mapping: format, columns, the table it is for (given or guessed,
        else None) and that table's automatic mapping (canonical column: source column)."""
        return importing.inspect_file(Path(path), table)

    def demo(self, size: str = "small", seed: int = 42, replace: bool = False) -> dict[str, int]:
        """Fill the store with the demo company; returns rows written per table."""
        self._writable_store("hold the demo company")
        return load_demo(self.store, size, seed, replace)

    # -- data out --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        self._writable_store("report imports (see its manifest.json)")
        return status(self.store)

    def imports(self, limit: int | None = None, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """The imports, newest first (``limit`` of them from ``offset``), and how many there are:
        id, table, file, mapping, times and counts (rows read, inserted, updated, unchanged,
        rejected, warnings)."""
        self._writable_store("list imports")
        return importing.list_imports(self.store, limit, offset)

    def rejects(self, import_id: int | None = None, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """Rows set aside by an import (the last one by default), by row, ``limit`` from ``offset``."""
        self._writable_store("list rejects")
        if import_id is None:
            import_id = self.store.scalar("SELECT max(import_id) FROM imports")
            if import_id is None:
                return []
        elif not self.store.scalar("SELECT count(*) FROM imports WHERE import_id = ?", [import_id]):
            last = self.store.scalar("SELECT max(import_id) FROM imports")
            known = f"imports are numbered 1 to {last}" if last else "there has been no import yet"
            raise NotFound(f"There is no import {import_id} in {self.label}: {known} (see salespilot status).")
        sql = (
            "SELECT import_id, file, row_number, column_name, value, reason FROM import_rejects "
            "WHERE import_id = ? ORDER BY row_number NULLS LAST, column_name"
        )
        params: list[Any] = [import_id]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        if offset:
            sql += " OFFSET ?"
            params.append(offset)
        keys = ("import_id", "file", "row", "column", "value", "reason")
        return [dict(zip(keys, r, strict=True)) for r in self.store.fetchall(sql, params)]

    def warnings(self, import_id: int) -> list[dict[str, Any]]:
        """What an import kept but warned about: per column and value it did not know (e.g. an
        owner that is not a rep), the reason, how many rows carry it and the first of them."""
        self.rejects(import_id, limit=0)  # the same checks and message for an import that is not there
        sql = (
            "SELECT column_name, value, reason, rows, first_row FROM import_warnings "
            "WHERE import_id = ? ORDER BY rows DESC, column_name, value"
        )
        keys = ("column", "value", "reason", "rows", "first_row")
        return [dict(zip(keys, r, strict=True)) for r in self.store.fetchall(sql, [import_id])]

    def kpi(
        self,
        names: str | list[str],
        grain: str = "month",
        by: str | list[str] | tuple[str, ...] = (),
        filters: dict[str, str] | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        fiscal: bool = False,
        catalogue: str | os.PathLike[str] | None = None,
        output: str = "arrow",
    ) -> Any:
        """KPIs by period and dimension: an Arrow table (or ``output="pandas"|"polars"|"rows"``).

        One row per KPI, period and dimension value, with the columns of ``salespilot kpi
        --format json`` (kpi, period, the dimensions, value, reason, flags, and per kind
        numerator/denominator/ci_low/ci_high, n/median/mean/p90, growth, target...).
        """
        result = self.kpi_result(names, grain, by, filters, start, end, fiscal, catalogue)
        return kpis.shaped(result, output)

    def kpi_result(
        self,
        names: str | list[str],
        grain: str = "month",
        by: str | list[str] | tuple[str, ...] = (),
        filters: dict[str, str] | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        fiscal: bool = False,
        catalogue: str | os.PathLike[str] | None = None,
    ) -> kpis.KpiResult:
        """The rows and the queries behind them (what ``--explain`` prints)."""
        names_list = [names] if isinstance(names, str) else list(names)
        by_tuple = tuple(d.strip() for d in by.split(",") if d.strip()) if isinstance(by, str) else tuple(by)
        return kpis.compute(
            self.store,
            self.settings(),
            names_list,
            grain=grain,
            by=by_tuple,
            filters=tuple((filters or {}).items()),
            start=_date(start, "--from"),
            end=_date(end, "--to"),
            fiscal=fiscal,
            catalogue=kpis.catalogue_from(os.fspath(catalogue)) if catalogue is not None else None,
        )

    def kpi_rows(
        self,
        name: str,
        filters: dict[str, str] | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        limit: int = 200,
    ) -> dict[str, Any]:
        """The records behind a KPI over a range (its definition, the row count, the first ``limit``
        rows): what a click on a number shows. The rows add up to the KPI's count or sum."""
        return kpis.rows_behind(
            self.store,
            self.settings(),
            name,
            tuple((filters or {}).items()),
            _date(start, "--from"),
            _date(end, "--to"),
            limit,
        )

    def plan(
        self,
        *,
        revenue: float | None = None,
        signatures: float | None = None,
        horizon: str | float = "month",
        calls: float | None = None,
        leads: float | None = None,
        team: bool = False,
        rates: str = "reference",
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        deal_value: float | None = None,
        capacity: planning.Capacity | None = None,
        references: dict[str, float] | None = None,
    ) -> planning.Plan:
        """The funnel planner (docs/planner.md): backward from ``revenue`` or ``signatures`` to the
        volumes and headcount needed, or forward from ``calls``, ``leads`` or today's ``team``.
        ``references``: reference rates for this plan only (steps call_to_lead, lead_to_opportunity,
        opportunity_to_signature), over those of the ``reference_rates`` setting."""
        return planning.plan(
            self,
            revenue=revenue,
            signatures=signatures,
            horizon=horizon,
            calls=calls,
            leads=leads,
            team=team,
            rates=rates,
            start=_date(start, "--from"),
            end=_date(end, "--to"),
            deal_value=deal_value,
            capacity=capacity,
            references=references,
        )

    def funnel(
        self,
        grain: str = "month",
        by: str | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        steps: str | list[str] | None = None,
        stages: bool | None = None,
        references: dict[str, float] | None = None,
    ) -> list[funnel_engine.FunnelPeriod]:
        """The funnel (docs/funnel.md): per period (and ``by`` value) each step's volume, its measured
        conversion to the next with its interval, the reference rate and, when significantly below
        it, the lever to pull. ``steps``: consecutive steps of call, lead, opportunity, signature;
        ``stages``: the opportunity stages between opportunity and signature; ``references``:
        other reference rates (keys call_to_lead, lead_to_opportunity, opportunity_to_signature).
        Left out, each comes from the settings funnel_steps, funnel_stages and reference_rates."""
        return funnel_engine.funnel(
            self,
            grain=grain,
            by=(by,) if by else (),
            start=_date(start, "--from"),
            end=_date(end, "--to"),
            steps=steps,
            stages=stages,
            references=references,
        )

    def settings(self) -> dict[str, str]:
        if self.engine_only:
            return dict(self.store.settings())
        return store_settings.all_settings(self.store)

    def get_setting(self, name: str) -> str:
        if self.engine_only:
            validate(name, SETTINGS[name].default if name in SETTINGS else "")
            return str(self.store.settings()[name])
        return store_settings.get_setting(self.store, name)

    def set_setting(self, name: str, value: str) -> str:
        self._writable_store("change settings")
        return store_settings.set_setting(self.store, name, value)

    def sql(self, query: str, params: list[Any] | None = None) -> Any:
        """Run a query on the store and return an Arrow table (for analysts: a write bypasses the
        importer's checks)."""
        try:
            if self.engine_only:
                if params:
                    raise ParameterError("Queries on a Spark export take no parameters.")
                return self.store.arrow(query)
            return self.store.arrow(query, params)
        except InternalError as exc:  # the user's SQL, not our bug
            raise QueryError(f"The query failed: {exc}") from None

    def export_parquet(self, directory: str | os.PathLike[str], replace: bool = False) -> dict[str, Any]:
        """Write every canonical table, the settings and a manifest to ``directory`` (see docs/engines.md).

        Atomic: the folder appears whole or not at all. Returns the manifest (tables, rows...).
        """
        self._writable_store("be exported again")
        return store_export.export_folder(self.store, directory, replace=replace)

    # -- pipeline --------------------------------------------------------------------------
    def stage_durations(self, order: list[str] | tuple[str, ...] | None = None) -> Any:
        """Per stage and for the whole cycle: n, events, censored, median, p75, p90 in days
        (Kaplan-Meier, open deals censored at the data's end; see docs/pipeline.md). ``order``:
        stages in funnel order (default: the stage_order setting)."""
        settings = self.settings()
        if order is None:
            order = parse_stage_order(settings["stage_order"])
        return pipeline_engine.stage_durations(self.store, settings["base_currency"].upper(), order)

    def pipeline_movement(self, start: dt.date | str, end: dt.date | str) -> dict[str, Any]:
        """What changed in the pipeline from the end of ``start`` to the end of ``end``: deals
        created, won, lost, advanced, moved back, pushed, pulled in, and amount changes."""
        first, last = _date(start, "--from"), _date(end, "--to")
        assert first is not None and last is not None
        if last < first:
            raise ParameterError(f"--to {last} is before --from {first}.")
        base = self.settings()["base_currency"].upper()
        order = parse_stage_order(self.settings()["stage_order"])
        return pipeline_engine.movement(self.as_of(first).store, self.as_of(last).store, base, order)

    def stuck_deals(
        self, percentile: float = 90, by: str | None = None, idle_days: float | None = 30, min_history: int = 30
    ) -> list[dict[str, Any]]:
        """Open deals over their stage's historical percentile of time in stage, or idle for more
        than ``idle_days``; sorted by value at risk (``by="rep"``: one row per rep). The thresholds
        are learnt from the whole company's history whatever the user's scope (engine/peers.py);
        the deals are the visible ones."""
        base = self.settings()["base_currency"].upper()
        if not peers.narrowed(self.store):
            return pipeline_engine.stuck_deals(self.store, base, percentile, by, idle_days, min_history)
        every = pipeline_engine.stuck_deals(
            peers.peers_store(self.store), base, percentile, None, idle_days, min_history
        )
        visible = peers.visible_deals(self.store)
        rows = [r for r in every if str(r["opportunity_id"]) in visible]
        return rows if by is None else group_stuck(rows, by)

    # -- the team (docs/team.md) ---------------------------------------------------------------
    def rep_names(self) -> dict[str, str]:
        """The reps this workspace shows (a user's scope: those they may see), id -> name."""
        return team_engine.rep_names(self)

    def reps(
        self,
        grain: str = "month",
        role: str | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        percentile: float = 75,
    ) -> dict[str, Any]:
        """Each rep's scorecard per period: activity per type, results, targets' attainment, rank
        among the peers of the same role and gap to their top quartile (``percentile``)."""
        dates = _date(start, "--from"), _date(end, "--to")
        return team_engine.scorecards(self, grain, role, *dates, percentile)

    def rep_gaps(
        self,
        role: str | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        percentile: float = 75,
    ) -> dict[str, Any]:
        """Per rep over the window: the revenue gap to the role's top quartile split into its causes
        (activity volume, conversion at each step, cycle time, deal size); the parts add up."""
        dates = _date(start, "--from"), _date(end, "--to")
        return team_engine.gaps(self, role, *dates, percentile)

    def set_target(
        self, metric: str, value: float, period: str, rep: str | None = None, team: str | None = None
    ) -> importing.ImportResult:
        """Set (or replace) one target: of the company, or of a ``rep`` or a ``team``."""
        if rep is not None and team is not None:
            raise ParameterError("A target is of the company, a rep or a team: give --rep or --team, not both.")
        scope, scope_id = ("rep", rep) if rep is not None else ("team", team) if team is not None else ("company", None)
        row = {"period": period, "metric": metric, "value": value, "scope": scope, "scope_id": scope_id}
        return targets_engine.set_targets(self, [row], "targets-set")

    def targets(
        self, period: str | None = None, metric: str | None = None, scope: str | None = None
    ) -> list[dict[str, Any]]:
        """The targets, filtered by period, metric and scope."""
        return targets_engine.list_targets(self, period, metric, scope)

    def suggest_targets(
        self,
        role: str | None = None,
        percentile: float = 75,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        grain: str = "month",
        save_for: list[str] | None = None,
    ) -> dict[str, Any]:
        """Targets per role from the measured ``percentile`` of the role's reps (their mean per
        period over the window, default the last twelve months); ``save_for``: periods to write
        them for, as rep targets of every active rep of the role."""
        if not 0 < percentile < 100:
            raise ParameterError(f"--percentile must be between 0 and 100, exclusive (got {percentile:g}).")
        dates = _date(start, "--from"), _date(end, "--to")
        result = targets_engine.suggest(self, role, percentile, *dates, grain)
        if save_for:
            saved = targets_engine.save_suggestions(self, result, save_for)
            result["saved"] = saved.as_dict()
        return result

    def simulate_comp(
        self,
        plan: str | os.PathLike[str],
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        compare: str | os.PathLike[str] | None = None,
    ) -> dict[str, Any]:
        """Replay a compensation plan (a YAML file) on the measured numbers: pay per rep and period,
        cost of sales, what it rewards; with ``compare``, two plans side by side."""
        dates = _date(start, "--from"), _date(end, "--to")
        first = comp_engine.simulate(self, comp_engine.load_plan(plan), *dates)
        if compare is None:
            return first
        second = comp_engine.simulate(self, comp_engine.load_plan(compare), *dates)
        return {"a": first, "b": second, "comparison": comp_engine.compare(first, second)}

    # -- the forecast (docs/forecast.md) -------------------------------------------------------
    def forecast(
        self,
        horizon: str = "month",
        by: str | None = None,
        as_of: dt.date | str | None = None,
        simulations: int = 10_000,
        new_pipeline: bool = True,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Expected bookings for the horizon (month, quarter or N-days): already won + each open
        deal's probability of being won within it x its amount, with P10, P50, P90 from a Monte
        Carlo simulation; ``by`` rep or team; ``as_of`` a past date."""
        return forecast_engine.forecast(self, horizon, by, as_of, simulations, new_pipeline, seed)

    def backtest(
        self,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        every: str = "month",
        simulations: int = 2_000,
        new_pipeline: bool = True,
    ) -> dict[str, Any]:
        """The forecast replayed at the start of each period from the store as it then stood,
        against what was booked: error, bias and P10-P90 coverage, next to a weighted pipeline and
        a run rate."""
        dates = _date(start, "--from"), _date(end, "--to")
        return forecast_engine.backtest(self, *dates, every, simulations, new_pipeline)

    # -- losses and qualification (docs/losses.md) ---------------------------------------------
    def losses(
        self,
        by: str = "reason",
        grain: str = "month",
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> dict[str, Any]:
        """Lost deals and their value per period and ``by`` (reason, stage, competitor, rep, segment)."""
        return losses_engine.losses(self.store, self.settings(), by, grain, _date(start, "--from"), _date(end, "--to"))

    def qualification(
        self,
        grain: str = "month",
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        late_stage: str | None = None,
    ) -> dict[str, Any]:
        """The six qualification fields per opportunity, per rep, and against win rate and cycle."""
        dates = _date(start, "--from"), _date(end, "--to")
        return losses_engine.qualification(self.store, self.settings(), grain, *dates, late_stage)

    def lensed(self, *lenses: Lens) -> Workspace:
        """This workspace seen through ``lenses`` (see ``salespilot.store.lens``): same connection, reads only.

        ``ws.lensed(AsOfLens(date))`` is the store as it stood on that date; ``ws.lensed(scope)``
        holds only the records a user may see. Closing the view leaves this workspace open.
        """
        view = object.__new__(Workspace)
        view.engine_only = self.engine_only
        view.store = with_lenses(self.store, *lenses)
        return view

    def sliced(self, filters: dict[str, str]) -> Workspace:
        """This workspace narrowed to the dashboard's filters (``rep``, ``team``, ``channel``,
        ``segment``; ``SliceLens``), as a read-only view: the funnel, the pipeline, losses, the
        team's scorecards... then hold only that slice. Composes with a user's scope (AND)."""
        wrong = [key for key in filters if key not in SLICE_DIMS]
        if wrong:
            raise ParameterError(f"Parameter {wrong[0]}: not a filter; expected one of {', '.join(SLICE_DIMS)}.")
        chosen = {key: str(value) for key, value in filters.items() if value}
        return self.lensed(SliceLens(**chosen)) if chosen else self.lensed()

    def for_user(self, user: access.User) -> Workspace:
        """This workspace as ``user`` may see it (docs/access.md), as a read-only view: everything
        for an admin or a viewer; for a manager or a rep, only their records through their scope
        (``ScopeLens``), so that every KPI, the funnel, the pipeline, the forecast and the team
        pages hold only those. The view writes nothing (an admin's writes go through the workspace
        itself, after checking ``user.can_write``), and closing it leaves this workspace open.

        Only what reads the tables through Ibis obeys the scope: ``sql``, ``status`` and ``rejects``
        read the store directly and are for admins."""
        lens = access.scope_lens(self.store, user)
        return self.lensed() if lens is None else self.lensed(lens)

    # -- users (docs/access.md; the implementation is salespilot.engine.access) -----------------
    def users(self) -> list[access.User]:
        """Every user who may sign in, by e-mail."""
        self._writable_store("list users")
        return access.list_users(self.store)

    def add_user(
        self,
        email: str,
        password: str,
        role: str,
        rep_id: str | None = None,
        team: str | None = None,
        name: str | None = None,
        language: str = "en",
    ) -> access.User:
        """A new user (roles: admin, manager, rep, viewer); see ``access.add_user``."""
        self._writable_store("manage users")
        return access.add_user(self.store, email, password, role, rep_id, team, name, language)

    def remove_user(self, email: str) -> None:
        """Remove a user, with their sessions and API tokens."""
        self._writable_store("manage users")
        access.remove_user(self.store, email)

    def reset_password(self, email: str, password: str) -> None:
        """Give a user a new password; their sessions end."""
        self._writable_store("manage users")
        access.reset_password(self.store, email, password)

    def new_token(self, email: str, name: str | None = None) -> str:
        """A new API token for a user (shown once: only its hash is kept)."""
        self._writable_store("manage users")
        return access.new_token(self.store, email, name)

    def revoke_tokens(self, email: str) -> int:
        """End every API token of a user; returns how many there were."""
        self._writable_store("manage users")
        return access.revoke_tokens(self.store, email)

    def set_language(self, user_id: int, lang: str) -> None:
        """The language the interface speaks to a user (en, fr)."""
        self._writable_store("manage users")
        access.set_language(self.store, user_id, lang)

    def authenticate(self, email: str, password: str, client: str = "cli") -> access.User:
        """The user of these credentials, else ``NotAuthenticated``; rate-limited per e-mail and
        per ``client`` (``TooManyAttempts`` with ``retry_after`` seconds)."""
        self._writable_store("sign users in")
        return access.authenticate(self.store, email, password, client)

    def new_session(self, user: access.User, hours: float = 12) -> tuple[str, str]:
        """A session for ``user``: its token (for the cookie) and its CSRF token."""
        self._writable_store("sign users in")
        return access.new_session(self.store, user, hours)

    def session_user(self, token: str) -> tuple[access.User, str] | None:
        """The user of a live session token and its CSRF token, else ``None``."""
        self._writable_store("sign users in")
        return access.session_user(self.store, token)

    def end_session(self, token: str) -> None:
        """Sign out: the session token opens nothing any more."""
        self._writable_store("sign users in")
        access.end_session(self.store, token)

    def token_user(self, token: str) -> access.User | None:
        """The user of an API token, else ``None`` (unknown, revoked, or its user disabled)."""
        self._writable_store("sign users in")
        return access.token_user(self.store, token)

    def as_of(self, day: dt.date | str) -> Workspace:
        """This workspace as it stood at the end of ``day`` (local time; see docs/asof.md): every
        KPI, the funnel, the pipeline and the forecast computed on it see nothing later."""
        date = _date(day, "--as-of")
        assert date is not None
        zone = ZoneInfo(self.settings()["timezone"])
        end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        cutoff = end.astimezone(dt.UTC).replace(tzinfo=None) - dt.timedelta(microseconds=1)
        return self.lensed(AsOfLens(cutoff, date))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_WRITES = frozenset(
    {
        "import files",
        "hold the demo company",
        "change settings",
        "manage users",
        "list users",
        "sign users in",
        "list imports",
    }
)


def _mapping_ref(mapping: str | os.PathLike[str] | Mapping | dict[str, Any] | None) -> str | Mapping | None:
    found = importing.mapping_of(mapping if isinstance(mapping, Mapping | dict) or mapping is None else str(mapping))
    return found if isinstance(found, Mapping) or found is None else os.fspath(found)


def _instant(value: dt.datetime | str) -> dt.datetime:
    """A UTC instant from a datetime (naive: UTC) or "YYYY-MM-DD[THH:MM[:SS]]"."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ParameterError(f'--exported-at "{value}" is not a date or time (expected YYYY-MM-DD[THH:MM]).') from None
    return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _date(value: dt.date | str | None, option: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ParameterError(f'{option} "{value}" is not a date (expected YYYY-MM-DD).') from None


def open(db: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> Workspace:
    """Open the SalesPilot store ``db`` (see ``Workspace``)."""
    return Workspace(db, read_only=read_only)
