"""Mapping files: which source column feeds which canonical column, and how.

A mapping is YAML::

    table: opportunities
    options: {delimiter: ";", encoding: cp1252, date_format: "%d/%m/%Y", decimal: ",",
              thousands: " ", sheet: Deals, skip_rows: 0}
    columns:
      opportunity_id: Deal ID                       # a source column
      outcome: {column: Stage, values: {Won: won, Lost: lost, Open: open}}
      currency: {value: EUR}                        # a constant
      lead_id: {row_number: true}                   # the row number, for sources with no id

Built-in presets (``ingest/presets/*.yaml``) are used by name: ``--mapping hubspot-deals``.
Without a mapping, source columns whose names match canonical names (case, spaces, dashes and
underscores ignored) are used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from salespilot.errors import MappingError, did_you_mean
from salespilot.model import TABLES, Table

_OPTION_KEYS = ("delimiter", "encoding", "date_format", "decimal", "thousands", "sheet", "skip_rows", "format")
_TOP_KEYS = ("table", "options", "columns", "description")


def normalize_name(name: str) -> str:
    """Column names compare with case, spaces, dashes, dots and underscores ignored:
    'Lead ID' == 'lead_id' == 'LeadId'."""
    return re.sub(r"[\s\-_.]+", "", name.strip().lower())


class _Loader(yaml.SafeLoader):
    """YAML for mapping files: only true/false are booleans (Yes, No, On, Off stay text, as a
    CRM's values are), and a key given twice is an error instead of a silent overwrite."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _mapping_no_duplicates(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f'the key "{key}" is given twice', key_node.start_mark)
        seen[key] = loader.construct_object(value_node)
    return seen


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_no_duplicates)


@dataclass(frozen=True)
class ColumnSpec:
    canonical: str
    source: str | None = None
    values: dict[str, str] | None = None
    constant: str | None = None
    row_number: bool = False
    prefix: str = ""  # with row_number: text put before the number, so that two files' ids differ
    optional: bool = False  # a source column the file may lack: then the column is not mapped

    def describe(self) -> str:
        if self.constant is not None:
            return f"the constant {self.constant!r}"
        if self.row_number:
            return "the row number"
        return f"source column {self.source!r}"


@dataclass(frozen=True)
class MappingOptions:
    delimiter: str | None = None
    encoding: str | None = None
    date_format: str | None = None
    decimal: str = "."
    thousands: str | None = None
    sheet: str | int | None = None
    skip_rows: int = 0
    format: str | None = None


@dataclass(frozen=True)
class Mapping:
    origin: str  # a path, "preset NAME" or "automatic"
    table: str | None = None
    columns: dict[str, ColumnSpec] = field(default_factory=dict)
    options: MappingOptions = field(default_factory=MappingOptions)


def preset_names() -> list[str]:
    folder = resources.files("salespilot.ingest") / "presets"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_mapping(ref: str | Path) -> Mapping:
    """Load a mapping from a YAML path or a preset name."""
    path = Path(ref)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise MappingError(f"Mapping file {path} does not exist.")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MappingError(f"Mapping file {path} cannot be read as UTF-8 text: {exc}.") from None
        return parse_mapping(text, origin=str(path))
    names = preset_names()
    if str(ref) in names:
        folder = resources.files("salespilot.ingest") / "presets"
        text = (folder / f"{ref}.yaml").read_text(encoding="utf-8")
        return parse_mapping(text, origin=f"preset {ref}")
    raise MappingError(
        f'Mapping "{ref}" is neither a mapping file nor a preset.{did_you_mean(str(ref), names)} '
        f"Presets: {', '.join(names)}."
    )


def parse_mapping(text: str, origin: str) -> Mapping:
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no code from the file
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise MappingError(f"Mapping {origin} is not valid YAML{where}: {getattr(exc, 'problem', exc)}.") from None
    return mapping_from_data(data, origin)


def mapping_from_data(data: Any, origin: str) -> Mapping:
    """A mapping from its content already parsed (a mapping file's YAML, or the same as JSON):
    the keys table, options, columns and description, checked as a file's are."""
    if not isinstance(data, dict):
        raise MappingError(f"Mapping {origin} must be a YAML mapping with keys {', '.join(_TOP_KEYS)}.")
    for key in data:
        if key not in _TOP_KEYS:
            raise MappingError(
                f'Mapping {origin}: unknown key "{key}".{did_you_mean(str(key), _TOP_KEYS)} '
                f"Expected keys: {', '.join(_TOP_KEYS)}."
            )
    table_name = data.get("table")
    table: Table | None = None
    if table_name is not None:
        table = _table(str(table_name), origin)
    options = _options(data.get("options") or {}, origin)
    raw_columns = data.get("columns") or {}
    if not isinstance(raw_columns, dict):
        raise MappingError(f"Mapping {origin}: 'columns' must map canonical column names to sources.")
    columns: dict[str, ColumnSpec] = {}
    for canonical, spec in raw_columns.items():
        name = str(canonical)
        if table is not None and name not in table.column_map:
            raise MappingError(
                f'Mapping {origin}: "{name}" is not a column of table {table.name}.'
                f"{did_you_mean(name, table.column_names)} Columns: {', '.join(table.column_names)}."
            )
        columns[name] = _spec(name, spec, origin)
    return Mapping(origin=origin, table=table.name if table else None, columns=columns, options=options)


def _table(name: str, origin: str) -> Table:
    if name not in TABLES:
        raise MappingError(
            f'Mapping {origin}: "{name}" is not a table.{did_you_mean(name, TABLES)} Tables: {", ".join(TABLES)}.'
        )
    return TABLES[name]


def _options(raw: Any, origin: str) -> MappingOptions:
    if not isinstance(raw, dict):
        raise MappingError(f"Mapping {origin}: 'options' must be a mapping of {', '.join(_OPTION_KEYS)}.")
    for key in raw:
        if key not in _OPTION_KEYS:
            raise MappingError(
                f'Mapping {origin}: unknown option "{key}".{did_you_mean(str(key), _OPTION_KEYS)} '
                f"Options: {', '.join(_OPTION_KEYS)}."
            )
    decimal = str(raw.get("decimal", "."))
    if decimal not in (".", ","):
        raise MappingError(f'Mapping {origin}: option decimal must be "." or ",", not "{decimal}".')
    skip = raw.get("skip_rows", 0)
    if not isinstance(skip, int) or skip < 0:
        raise MappingError(f"Mapping {origin}: option skip_rows must be a whole number >= 0, not {skip!r}.")
    delimiter = raw.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise MappingError(f"Mapping {origin}: option delimiter must be one character, not {delimiter!r}.")
    thousands = raw.get("thousands")
    if thousands is not None and str(thousands) == decimal:
        raise MappingError(f"Mapping {origin}: options thousands and decimal cannot both be {decimal!r}.")
    sheet = raw.get("sheet")
    return MappingOptions(
        delimiter=delimiter,
        encoding=None if raw.get("encoding") is None else str(raw["encoding"]),
        date_format=None if raw.get("date_format") is None else str(raw["date_format"]),
        decimal=decimal,
        thousands=None if thousands is None else str(thousands),
        sheet=sheet if isinstance(sheet, int) or sheet is None else str(sheet),
        skip_rows=skip,
        format=None if raw.get("format") is None else str(raw["format"]).lower(),
    )


def _spec(name: str, spec: Any, origin: str) -> ColumnSpec:
    if isinstance(spec, str | int | float) and not isinstance(spec, bool):
        return ColumnSpec(name, source=str(spec))
    if isinstance(spec, dict):
        keys = set(spec)
        if keys <= {"column", "values", "optional"} and "column" in keys:
            values = spec.get("values") or {}
            optional = spec.get("optional", False)
            if not isinstance(optional, bool):
                raise MappingError(f"Mapping {origin}: {name}.optional must be true or false, not {optional!r}.")
            if not isinstance(values, dict):
                raise MappingError(f"Mapping {origin}: {name}.values must map source values to canonical values.")
            return ColumnSpec(
                name,
                source=str(spec["column"]),
                values={_text(k): _text(v) for k, v in values.items()} or None,
                optional=optional,
            )
        if keys == {"value"}:
            return ColumnSpec(name, constant=_text(spec["value"]))
        if keys <= {"row_number", "prefix"} and spec.get("row_number") is True:
            return ColumnSpec(name, row_number=True, prefix=_text(spec.get("prefix")))
    raise MappingError(
        f"Mapping {origin}: the source of {name} must be a column name, "
        f"{{column: NAME, values: {{...}}, optional: true}}, "
        f"{{value: CONSTANT}} or {{row_number: true, prefix: TEXT}}; got {spec!r}."
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def guess_table(file_name: str, source_columns: list[str]) -> str | None:
    """The table a file is for, from its name ('Leads_2017.csv'), else from its columns."""
    stem = re.sub(r"[\s\-.]+", "_", Path(file_name).stem.strip().lower())
    for name in TABLES:
        singular = name[:-1] if name.endswith("s") else name
        if re.fullmatch(rf"(?:{name}|{singular})(?:[_\d].*)?", stem):
            return name
    ranked = table_candidates(source_columns)
    if len(ranked) == 1 or (len(ranked) > 1 and ranked[0][1] > ranked[1][1]):
        return ranked[0][0]
    return None


def table_candidates(source_columns: list[str]) -> list[tuple[str, int]]:
    """The tables whose id column the file has (``lead_id``: leads), with how many of the file's
    columns each table has, best first: a leads export also carries ``account_id``, but most of
    its columns are the leads table's."""
    present = {normalize_name(c) for c in source_columns}
    found = [
        (t.name, sum(1 for c in t.column_names if normalize_name(c) in present))
        for t in TABLES.values()
        if not t.natural_key and normalize_name(t.key[0]) in present
    ]
    return sorted(found, key=lambda item: -item[1])


def automatic_specs(table: Table, source_columns: list[str]) -> dict[str, ColumnSpec]:
    """The automatic mapping: each canonical column fed by the source column named like it."""
    by_norm = {normalize_name(c): c for c in source_columns}
    return {
        c.name: ColumnSpec(c.name, source=by_norm[normalize_name(c.name)])
        for c in table.columns
        if normalize_name(c.name) in by_norm
    }


def resolve(mapping: Mapping | None, table: Table, source_columns: list[str], file: str) -> dict[str, ColumnSpec]:
    """The column specs to use for ``table``, checked against the file's columns."""
    by_norm = {normalize_name(c): c for c in source_columns}
    if mapping is None or not mapping.columns:
        specs = automatic_specs(table, source_columns)
        origin = "the automatic mapping (source columns named like canonical ones)"
    else:
        specs = dict(mapping.columns)
        origin = f"mapping {mapping.origin}"
        for name, spec in list(specs.items()):
            if name not in table.column_map:
                raise MappingError(
                    f'{origin}: "{name}" is not a column of table {table.name}.'
                    f"{did_you_mean(name, table.column_names)} Columns: {', '.join(table.column_names)}."
                )
            if spec.source is not None and spec.source not in source_columns:
                alt = by_norm.get(normalize_name(spec.source))
                if alt is not None:
                    specs[name] = ColumnSpec(name, source=alt, values=spec.values)
                    continue
                if spec.optional:
                    del specs[name]
                    continue
                raise MappingError(
                    f'{origin}: column "{spec.source}" (for {table.name}.{name}) is not in file {file}.'
                    f"{did_you_mean(spec.source, source_columns)} The file's columns are: "
                    f"{', '.join(source_columns)}."
                )
    for name, spec in specs.items():
        _check_vocabulary(table, name, spec, origin)
    missing = [c for c in table.required if c not in specs]
    if missing:
        shown = ", ".join(source_columns[:15]) + (" ..." if len(source_columns) > 15 else "")
        hint = ""
        if len(source_columns) == 1 and any(sep in source_columns[0] for sep in ";,\t|"):
            hint = " The file seems to have a single column: is the delimiter right (options.delimiter)?"
        raise MappingError(
            f"File {file} has no column for {', '.join(missing)}, required for table {table.name} "
            f"(using {origin}). The file's columns are: {shown}.{hint} Map them in a mapping file, "
            f"e.g. 'columns: {{{missing[0]}: YOUR_COLUMN}}', and pass it with --mapping."
        )
    return specs


def _check_vocabulary(table: Table, name: str, spec: ColumnSpec, origin: str) -> None:
    """A constant or a values-map target of a closed vocabulary must be one of its words."""
    column = table.column(name)
    if column.enum is None or column.unknown_enum_to is not None:
        return
    given = [spec.constant] if spec.constant is not None else list((spec.values or {}).values())
    for value in given:
        token = re.sub(r"[\s\-]+", "_", value.strip().lower())
        if value and token not in column.enum:
            raise MappingError(
                f'{origin}: "{value}" is not a value of {table.name}.{name}.{did_you_mean(value, column.enum)} '
                f"Expected one of: {', '.join(column.enum)}."
            )
