"""Turn raw text batches into typed canonical rows, and set aside the rows that fail.

A row fails when a required value is missing, a value does not parse as its column's type
(date, number, period), is not in its column's closed vocabulary, is negative where it cannot
be, or breaks a rule between columns (a won deal without a close date). Each failing cell is a
``Problem`` (row, column, value, reason); the row is rejected once, however many cells fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from salespilot.errors import MappingError
from salespilot.ingest import parse
from salespilot.ingest.mapping import ColumnSpec, MappingOptions
from salespilot.ingest.readers import RawBatch
from salespilot.model import Column, ColumnType, Table

ROW = "_row"
PROBLEM_SCHEMA = pa.schema(
    [("row", pa.int64()), ("column", pa.string()), ("value", pa.string()), ("reason", pa.string())]
)
ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.STRING: pa.string(),
    ColumnType.TIMESTAMP: pa.timestamp("us"),
    ColumnType.DATE: pa.date32(),
    ColumnType.FLOAT: pa.float64(),
    ColumnType.INTEGER: pa.int64(),
    ColumnType.PERIOD: pa.string(),
}


@dataclass
class Converted:
    rows: pa.Table  # typed canonical columns (those mapped) + ROW, only the good rows
    problems: pa.Table  # PROBLEM_SCHEMA, one line per failing cell
    rejected: int  # number of distinct rows rejected


class Converter:
    """Converts the batches of one file; remembers each date column's layout across batches."""

    def __init__(
        self,
        table: Table,
        specs: dict[str, ColumnSpec],
        options: MappingOptions,
        timezone: str,
        file: str,
    ) -> None:
        self.table = table
        self.specs = specs
        self.options = options
        self.timezone = timezone
        self.file = file
        self._layouts: dict[str, parse.DateLayout] = {}
        self.output_columns = [c.name for c in table.columns if c.name in specs]
        for column in table.columns:
            if column.keep_text_in and column.name in specs and column.keep_text_in not in self.output_columns:
                self.output_columns.append(column.keep_text_in)

    def convert(self, batch: RawBatch) -> Converted:
        n = batch.table.num_rows
        bad_any = pa.array([False] * n, pa.bool_()) if n else pa.array([], pa.bool_())
        problems: list[pa.Table] = []
        typed: dict[str, pa.Array] = {}
        texts: dict[str, pa.Array] = {}

        def flag(mask: pa.Array, column: str, value: pa.Array, reason: str | pa.Array) -> None:
            nonlocal bad_any
            mask = pc.fill_null(mask, False)
            if not pc.any(mask).as_py():
                return
            bad_any = pc.or_(bad_any, mask)
            reasons = (
                pc.filter(reason, mask)
                if isinstance(reason, pa.Array)
                else pa.array([reason] * pc.sum(mask).as_py(), pa.string())
            )
            problems.append(
                pa.table(
                    [
                        pc.filter(batch.rows, mask),
                        pa.array([column] * len(reasons), pa.string()),
                        pc.filter(value, mask),
                        reasons,
                    ],
                    schema=PROBLEM_SCHEMA,
                )
            )

        for name, spec in self.specs.items():
            column = self.table.column(name)
            label = spec.source if spec.source is not None else name
            raw = pc.utf8_trim_whitespace(self._source(spec, batch))  # " R12 " is R12
            if spec.values:
                raw = _apply_values(raw, spec.values)
            if column.default is not None:
                raw = pc.fill_null(raw, column.default)
            texts[name] = raw
            value, reason = self._typed(column, raw, label)
            if reason is not None:
                flag(pc.and_(pc.is_valid(raw), pc.is_null(value)), label, raw, reason)
            if column.type in (ColumnType.TIMESTAMP, ColumnType.DATE):
                # 9999-12-31 or 1900-01-01 are a CRM's "no date", not a date: refuse them as such.
                year = pc.year(value)
                odd = pc.or_(pc.less(year, parse.FIRST_YEAR), pc.greater(year, parse.LAST_YEAR))
                flag(
                    odd,
                    label,
                    raw,
                    f"{name}: not a plausible date (years {parse.FIRST_YEAR}-{parse.LAST_YEAR}); "
                    "a placeholder such as 9999-12-31 should be left empty",
                )
                value = pc.if_else(pc.fill_null(odd, False), pa.nulls(len(value), value.type), value)
            if column.required:
                flag(pc.is_null(raw), label, raw, f"{name} is required but empty")
            value = self._check_enum(column, value, raw, label, flag, typed)
            if column.non_negative and value.type != pa.string():
                flag(pc.less(value, 0), label, raw, f"{name} cannot be negative")
            if column.positive and value.type != pa.string():
                flag(pc.less_equal(value, 0), label, raw, f"{name} must be greater than 0")
            typed[name] = value

        if self.table.name == "opportunities" and "outcome" in typed and "closed_at" in typed:
            # An open deal has not closed: a close date on it (CRMs export the expected one) is dropped.
            is_open = pc.fill_null(pc.equal(typed["outcome"], "open"), False)
            typed["closed_at"] = pc.if_else(is_open, pa.nulls(n, pa.timestamp("us")), typed["closed_at"])
        for rule in RULES.get(self.table.name, ()):
            rule(typed, texts, self.specs, flag, self.file)

        good = pc.invert(bad_any)
        columns = {name: pc.filter(typed[name], good) for name in self.output_columns if name in typed}
        columns[ROW] = pc.filter(batch.rows, good)
        problem_table = pa.concat_tables(problems) if problems else PROBLEM_SCHEMA.empty_table()
        return Converted(pa.table(columns), problem_table, int(pc.sum(bad_any).as_py() or 0))

    # -- helpers ---------------------------------------------------------------------------
    def _source(self, spec: ColumnSpec, batch: RawBatch) -> pa.Array:
        n = batch.table.num_rows
        if spec.constant is not None:
            return pa.array([spec.constant or None] * n, pa.string())
        if spec.row_number:
            return pc.binary_join_element_wise(spec.prefix, pc.cast(batch.rows, pa.string()), "")
        column = batch.table.column(spec.source)
        return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column

    def _typed(self, column: Column, raw: pa.Array, label: str) -> tuple[pa.Array, str | None]:
        opts = self.options
        match column.type:
            case ColumnType.STRING:
                return raw, None
            case ColumnType.TIMESTAMP | ColumnType.DATE:
                layout = self._layout(column.name, raw, label)
                if column.type is ColumnType.TIMESTAMP:
                    value = parse.parse_timestamp(raw, layout, self.timezone)
                else:
                    value = parse.parse_date(raw, layout)
                return value, f"{column.name}: expected a date in {layout.label}"
            case ColumnType.FLOAT:
                sep = "decimal comma" if opts.decimal == "," else "decimal point"
                return parse.parse_float(raw, opts.decimal, opts.thousands), f"{column.name}: expected a number ({sep})"
            case ColumnType.INTEGER:
                return parse.parse_integer(raw, opts.decimal, opts.thousands), f"{column.name}: expected a whole number"
            case ColumnType.PERIOD:
                return parse.parse_period(raw), (
                    f"{column.name}: expected a period label "
                    "(2017, 2017-Q1, 2017-03, 2017-W11, 2017-03-14, FY2018 or FY2018-Q1)"
                )

    def _layout(self, name: str, raw: pa.Array, label: str) -> parse.DateLayout:
        if name not in self._layouts:
            sample = raw.drop_null()
            if len(sample) == 0 and self.options.date_format is None:
                return parse.ISO_ONLY  # decide on the first batch that has values
            self._layouts[name] = parse.detect_layout(sample, self.options.date_format, label, self.file)
        return self._layouts[name]

    def _check_enum(
        self,
        column: Column,
        value: pa.Array,
        raw: pa.Array,
        label: str,
        flag: Callable[[pa.Array, str, pa.Array, str], None],
        typed: dict[str, pa.Array],
    ) -> pa.Array:
        if column.enum is None:
            return value
        token = parse.normalize_token(value)
        known = pc.is_in(token, value_set=pa.array(column.enum, pa.string()))
        unknown = pc.and_(pc.is_valid(token), pc.invert(pc.fill_null(known, False)))
        if column.unknown_enum_to is not None:
            if column.keep_text_in and column.keep_text_in not in self.specs:
                typed[column.keep_text_in] = pc.if_else(unknown, value, pa.nulls(len(value), pa.string()))
            return pc.if_else(unknown, column.unknown_enum_to, token)
        flag(unknown, label, raw, f"{column.name}: expected one of {', '.join(column.enum)}")
        return token


def _apply_values(raw: pa.Array, values: dict[str, str]) -> pa.Array:
    """Replace source values by canonical ones; exact match first, then case and separators ignored."""
    keys = list(values)
    targets = pa.array([v if v != "" else None for v in values.values()], pa.string())
    exact = pc.cast(pc.index_in(raw, value_set=pa.array(keys, pa.string())), pa.int64())
    loose_keys: dict[str, int] = {}
    for i, key in enumerate(keys):
        loose_keys.setdefault(re.sub(r"[\s\-_.]+", "", key.strip().lower()), i)
    loose = pc.index_in(_loose(raw), value_set=pa.array(list(loose_keys), pa.string()))
    index = pc.coalesce(exact, pc.take(pa.array(list(loose_keys.values()), pa.int64()), loose))
    return pc.if_else(pc.is_valid(index), pc.take(targets, index), raw)


def _loose(values: pa.Array) -> pa.Array:
    """'Closed Won', 'closed_won' and 'ClosedWon' compare equal in value maps."""
    return pc.replace_substring_regex(pc.utf8_lower(parse.trim(values)), r"[\s\-_.]+", "")


Flag = Callable[[pa.Array, str, pa.Array, str], None]
Rule = Callable[[dict[str, pa.Array], dict[str, pa.Array], dict[str, ColumnSpec], Flag, str], None]


def _label(specs: dict[str, ColumnSpec], name: str) -> str:
    spec = specs[name]
    return spec.source if spec.source is not None else name


def _opportunity_closing(
    typed: dict[str, pa.Array], texts: dict[str, pa.Array], specs: dict[str, ColumnSpec], flag: Flag, file: str
) -> None:
    if "outcome" in typed:
        closed = pc.is_in(typed["outcome"], value_set=pa.array(["won", "lost"]))
        if "closed_at" in typed:
            missing = pc.and_(closed, pc.is_null(typed["closed_at"]))
            flag(
                missing,
                _label(specs, "closed_at"),
                texts["closed_at"],
                "closed_at: a won or lost opportunity needs its close date",
            )
        elif pc.any(pc.fill_null(closed, False)).as_py():
            raise MappingError(
                f"File {file}: some opportunities are won or lost, but no column is mapped to closed_at, "
                "their close date. Map it (e.g. 'closed_at: Close Date') in a mapping file."
            )
    if "closed_at" in typed and "created_at" in typed:
        flag(
            pc.less(typed["closed_at"], typed["created_at"]),
            _label(specs, "closed_at"),
            texts["closed_at"],
            "closed_at: the opportunity closes before it was created",
        )


def _contract_dates(
    typed: dict[str, pa.Array], texts: dict[str, pa.Array], specs: dict[str, ColumnSpec], flag: Flag, file: str
) -> None:
    if "end_date" in typed and "start_date" in typed:
        flag(
            pc.less(typed["end_date"], typed["start_date"]),
            _label(specs, "end_date"),
            texts["end_date"],
            "end_date: the contract ends before it starts",
        )


RULES: dict[str, tuple[Rule, ...]] = {
    "opportunities": (_opportunity_closing,),
    "contracts": (_contract_dates,),
}
