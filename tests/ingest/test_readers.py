"""Readers: a file in, batches of text records with their row numbers out."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salespilot.errors import FileFormatError, ParameterError
from salespilot.ingest import readers_csv
from salespilot.ingest.readers import RawBatch, ReadOptions, RowIssue, Source, open_source
from salespilot.ingest.readers_base import ProgressReporter

Record = dict[str, str | None]


def _file(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _read(source: Source, progress: Callable[[int], None] | None = None) -> tuple[list[Record], list[int]]:
    records: list[Record] = []
    rows: list[int] = []
    for batch in source.batches(progress):
        assert batch.table.num_rows == len(batch.rows) > 0
        assert all(t == pa.string() for t in batch.table.schema.types)
        assert batch.rows.type == pa.int64()
        assert batch.table.column_names == source.columns
        records.extend(batch.table.to_pylist())
        rows.extend(batch.rows.to_pylist())
    return records, rows


def _open_read(path: Path, **options: Any) -> tuple[Source, list[Record], list[int]]:
    source = open_source(path, ReadOptions(**options))
    records, rows = _read(source)
    return source, records, rows


def _careful(source: Source, batch_rows: int = 262_144) -> tuple[list[Record], list[int], list[RowIssue]]:
    """The csv-module path on its own, to compare with the pyarrow path."""
    layout = source._layout
    assert isinstance(layout, readers_csv.CsvLayout)
    issues: list[RowIssue] = []
    report = ProgressReporter(None, source.size_bytes)
    batches: list[RawBatch] = list(
        readers_csv._careful_batches(source.path, layout, ReadOptions(batch_rows=batch_rows), report, issues, 0)
    )
    records = [r for b in batches for r in b.table.to_pylist()]
    return records, [n for b in batches for n in b.rows.to_pylist()], issues


# -- CSV: layout ---------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_with_each_delimiter(tmp_path: Path, delimiter: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([["id", "name", "note"], ["1", "Acme, Inc; Ltd|x", "two\nlines"], ["2", 'say "hi"\t!', "b"]])
    source, records, rows = _open_read(_file(tmp_path, "d.csv", buffer.getvalue()))
    assert source.format == "csv"
    assert source.delimiter == delimiter
    assert source.columns == ["id", "name", "note"]
    assert records == [
        {"id": "1", "name": "Acme, Inc; Ltd|x", "note": "two\nlines"},
        {"id": "2", "name": 'say "hi"\t!', "note": "b"},
    ]
    assert rows == [2, 3]


def test_explicit_delimiter_and_aliases(tmp_path: Path) -> None:
    path = _file(tmp_path, "t.txt", "a\tb\n1\t2\n")
    for given_delimiter in ("\t", "tab", "\\t"):
        source, records, _ = _open_read(path, delimiter=given_delimiter)
        assert source.delimiter == "\t"
        assert records == [{"a": "1", "b": "2"}]
    with pytest.raises(ParameterError, match="delimiter"):
        open_source(path, ReadOptions(delimiter=";;"))


def test_header_is_deduplicated_and_bom_stripped(tmp_path: Path) -> None:
    path = _file(tmp_path, "h.csv", b"\xef\xbb\xbfId, Name ,name,,Id\n1,a,b,c,d\n")
    source, records, _ = _open_read(path)
    assert source.encoding == "utf-8-sig"
    assert source.columns == ["Id", "Name", "name_2", "column_4", "Id_2"]
    assert records == [{"Id": "1", "Name": "a", "name_2": "b", "column_4": "c", "Id_2": "d"}]


def test_header_only_file_has_zero_rows(tmp_path: Path) -> None:
    for data in ("a,b\n", "a,b", "a,b\r\n\r\n"):
        source, records, rows = _open_read(_file(tmp_path, "h.csv", data))
        assert source.columns == ["a", "b"]
        assert (records, rows, source.issues) == ([], [], [])


def test_skip_rows_and_leading_blank_lines_count_in_row_numbers(tmp_path: Path) -> None:
    data = "Export of deals\nGenerated 2024-01-05, by CRM\n\nid;name\n1;a\n2;b\n"
    source, records, rows = _open_read(_file(tmp_path, "s.csv", data), skip_rows=2)
    assert source.columns == ["id", "name"]
    assert source.delimiter == ";"
    assert records == [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]
    assert rows == [5, 6]  # the header is on row 4


def test_skipping_every_line_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="no header row"):
        open_source(_file(tmp_path, "s.csv", "a\nb\n"), ReadOptions(skip_rows=2))


def test_values_are_kept_verbatim_and_blanks_become_null(tmp_path: Path) -> None:
    data = 'a,b,c\n  padded  ,,"  "\n"=cmd|\' /C calc\'!A0",+1,@x\n-2," \t","""q"""\n'
    _, records, rows = _open_read(_file(tmp_path, "v.csv", data))
    assert records == [
        {"a": "  padded  ", "b": None, "c": None},
        {"a": "=cmd|' /C calc'!A0", "b": "+1", "c": "@x"},
        {"a": "-2", "b": None, "c": '"q"'},
    ]
    assert rows == [2, 3, 4]


def test_blank_lines_and_empty_records_are_skipped_but_counted(tmp_path: Path) -> None:
    data = "a,b\r\n1,2\r\n\r\n,\r\n3,4\r\n\r\n\r\n"
    _, records, rows = _open_read(_file(tmp_path, "b.csv", data))
    assert records == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    assert rows == [2, 5]


def test_one_column_file(tmp_path: Path) -> None:
    _, records, rows = _open_read(_file(tmp_path, "one.csv", "email\na@x.io\n\n  \nb@x.io\n"))
    assert records == [{"email": "a@x.io"}, {"email": "b@x.io"}]
    assert rows == [2, 5]


def test_excel_sep_line_sets_the_delimiter_and_is_not_a_row(tmp_path: Path) -> None:
    source, records, rows = _open_read(_file(tmp_path, "x.csv", b"\xef\xbb\xbfsep=;\r\na;b\r\n1,5;2\r\n"))
    assert (source.delimiter, source.columns) == (";", ["a", "b"])
    assert records == [{"a": "1,5", "b": "2"}]
    assert rows == [2]


def test_trailing_empty_fields_are_not_an_issue(tmp_path: Path) -> None:
    source, records, rows = _open_read(_file(tmp_path, "t.csv", "a,b\n1,2,\n3,4, ,\n5,6,x\n"))
    assert records == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    assert rows == [2, 3]
    assert [i.row for i in source.issues] == [4]


def test_old_mac_line_endings(tmp_path: Path) -> None:
    _, records, rows = _open_read(_file(tmp_path, "m.csv", 'a,b\r1,2\r\r3,"x\ry"\r'))
    assert records == [{"a": "1", "b": "2"}, {"a": "3", "b": "x\ry"}]
    assert rows == [2, 4]


# -- CSV: encodings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252")],
)
def test_encodings_are_sniffed_and_transcoded(tmp_path: Path, encoding: str, expected: str) -> None:
    path = _file(tmp_path, "e.csv", "nom;prix\nCafé crème;5 €\nÉlodie;\n".encode(encoding))
    source, records, _ = _open_read(path)
    assert source.encoding == expected
    assert source.columns == ["nom", "prix"]
    assert records == [{"nom": "Café crème", "prix": "5 €"}, {"nom": "Élodie", "prix": None}]


def test_latin1_when_not_cp1252(tmp_path: Path) -> None:
    path = _file(tmp_path, "l.csv", "nom,code\nZoé,\x81\x8d\n".encode("latin-1"))
    source, records, _ = _open_read(path)
    assert source.encoding == "latin-1"
    assert records == [{"nom": "Zoé", "code": "\x81\x8d"}]


def test_bad_byte_at_the_end_of_a_large_file_does_not_crash(tmp_path: Path) -> None:
    body = "id,name\n" + "".join(f"{i},name {i}\n" for i in range(200_000))  # about 3 MB
    path = _file(tmp_path, "late.csv", body.encode() + b"200000,caf\xe9\n")
    source, records, rows = _open_read(path, batch_rows=50_000)
    assert source.encoding == "cp1252"
    assert len(records) == 200_001
    assert records[-1] == {"id": "200000", "name": "café"}
    assert rows[-1] == 200_002


def test_wrong_explicit_encoding_is_reported(tmp_path: Path) -> None:
    path = _file(tmp_path, "fr.csv", "nom\nCafé\n".encode("cp1252"))
    with pytest.raises(FileFormatError, match=r'"[^"]*fr\.csv" is not valid utf-8: byte 0xE9 at byte offset 7'):
        open_source(path, ReadOptions(encoding="utf-8"))
    _, records, _ = _open_read(path, encoding="cp1252")
    assert records == [{"nom": "Café"}]


# -- CSV: malformed rows -------------------------------------------------------------------

RAGGED = (
    "id,name,note\n"  # row 1
    '1,a,"multi\nline, note"\n'  # row 2 (two lines)
    "2,b\n"  # row 3: too few fields
    "3,c,ok\n"  # row 4
    "4,d,x,extra\n"  # row 5: too many
    "\n"  # row 6: blank
    "5,e,\n"  # row 7
)


def test_ragged_rows_become_issues_and_the_rest_is_read(tmp_path: Path) -> None:
    source, records, rows = _open_read(_file(tmp_path, "r.csv", RAGGED))
    assert [r["id"] for r in records] == ["1", "3", "5"]
    assert rows == [2, 4, 7]
    assert records[0]["note"] == "multi\nline, note"
    assert source.issues == [
        RowIssue(3, "has 2 field(s), expected 3 (the header's)", "2,b"),
        RowIssue(5, "has 4 field(s), expected 3 (the header's)", "4,d,x,extra"),
    ]


def test_issues_are_reset_by_each_read(tmp_path: Path) -> None:
    source = open_source(_file(tmp_path, "r.csv", RAGGED), ReadOptions(batch_rows=1))
    first = _read(source)
    assert len(source.issues) == 2
    assert _read(source) == first
    assert len(source.issues) == 2


def test_ragged_row_after_batches_were_handed_out(tmp_path: Path) -> None:
    """The fast path has already yielded batches when it meets the bad row: no record is
    repeated or lost, numbers stay exact (a multi-line value early on shifts lines, not rows)."""
    lines = ['id,name,note\n0,zero,"a\nb"\n']
    lines += [f"{i},name {i},note {i}\n" for i in range(1, 120_000)]
    lines.insert(100_000, "oops\n")  # row 100_002: the header is row 1, record 0 row 2
    source, records, rows = _open_read(_file(tmp_path, "late.csv", "".join(lines)), batch_rows=7_000)
    assert source.issues == [
        RowIssue(100_002, "has 1 field(s), expected 3 (the header's); is the delimiter really comma?", "oops")
    ]
    assert len(records) == 120_000
    assert [int(r["id"] or -1) for r in records] == list(range(120_000))
    assert rows == list(range(2, 100_002)) + list(range(100_003, 120_003))


def test_unclosed_quote_at_the_end_is_an_issue(tmp_path: Path) -> None:
    source, records, rows = _open_read(_file(tmp_path, "q.csv", 'a,b\n1,2\n3,"never closed\n4,5\n'))
    assert records == [{"a": "1", "b": "2"}]
    assert rows == [2]
    assert [(i.row, "never closed" in i.reason) for i in source.issues] == [(3, True)]


def test_fast_and_careful_paths_agree(tmp_path: Path) -> None:
    data = (
        'id;text;n\r\n1;"a;b\r\nc";  x  \r\n\r\n2;"""quoted""";\r\n;;\r\n'
        '3;"embedded\n\nblank lines";\u00a0\r\n4;é€;last'
    )
    source = open_source(_file(tmp_path, "p.csv", data))
    fast = _read(source)
    careful = _careful(source, batch_rows=2)
    assert (fast[0], fast[1], []) == careful
    assert fast[1] == [2, 4, 6, 7]


# -- CSV: progress -------------------------------------------------------------------------


def test_progress_is_reported_and_ends_at_the_file_size(tmp_path: Path) -> None:
    path = _file(tmp_path, "p.csv", "id,v\n" + "".join(f"{i},{i * 2}\n" for i in range(50_000)))
    calls: list[int] = []
    source = open_source(path, ReadOptions(batch_rows=10_000))
    batches = list(source.batches(calls.append))
    assert len(calls) >= len(batches) == 5
    assert calls == sorted(calls)
    assert calls[-1] == source.size_bytes == path.stat().st_size


def test_progress_on_the_careful_path_is_monotonic(tmp_path: Path) -> None:
    path = _file(tmp_path, "p.csv", "id,v\n" + "".join(f"{i},{i}\n" for i in range(30_000)) + "bad\n")
    calls: list[int] = []
    list(open_source(path, ReadOptions(batch_rows=1_000)).batches(calls.append))
    assert calls == sorted(calls)
    assert calls[-1] == path.stat().st_size


# -- errors --------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match=r'"[^"]*nope\.csv" does not exist'):
        open_source(tmp_path / "nope.csv")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    with pytest.raises(FileFormatError, match="is not a file"):
        open_source(folder)


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("empty.csv", b"", "is empty"),
        ("blank.csv", b"  \n\r\n\t\n", "only whitespace"),
        ("binary.csv", b"id,name\n\x00\x01\x02\x03", "is not a text file"),
        ("workbook.csv", b"PK\x03\x04\x14\x00\x06\x00\x08\x00", "is not a text file"),
        ("export.dat", b"id,name\n1,a\n", "csv, xlsx, parquet, json, ndjson"),
        ("bad.json", b'[{"a": 1}, {"a": 2,]', "is not valid JSON: Expecting property name"),
        ("scalar.json", b"42", "not an array of objects"),
        ("numbers.json", b"[1, 2]", "array of numbers"),
        ("empty.json", b"", "is empty"),
        ("text.ndjson", b"id,name\n1,a\n", "no line holding a JSON object"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "not a valid XLSX workbook"),
        ("broken.parquet", b"PAR1 nothing else", "not a readable Parquet file"),
    ],
)
def test_file_errors_name_the_file(tmp_path: Path, name: str, data: bytes, fragment: str) -> None:
    path = _file(tmp_path, name, data)
    with pytest.raises(FileFormatError) as error:
        open_source(path)
    assert f'"{path}"' in str(error.value)
    assert fragment in str(error.value)


def test_bad_json_message_has_line_and_column(tmp_path: Path) -> None:
    path = _file(tmp_path, "bad.json", '[\n  {"a": 1},\n  {"a": 2,}\n]')
    with pytest.raises(FileFormatError, match="at line 3, column 11"):
        open_source(path)


def test_json_object_wrapping_records_gets_a_hint(tmp_path: Path) -> None:
    path = _file(tmp_path, "wrapped.json", '{"count": 1, "results": [{"a": 1}]}')
    with pytest.raises(FileFormatError, match='under the key "results"'):
        open_source(path)


def test_xlsx_given_as_csv_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(FileFormatError, match=r"is not a text file.*XLSX workbook"):
        open_source(path, ReadOptions(format="csv"))


@pytest.mark.parametrize(
    "options",
    [ReadOptions(format="xls"), ReadOptions(skip_rows=-1), ReadOptions(batch_rows=0), ReadOptions(encoding="nope")],
)
def test_impossible_options(tmp_path: Path, options: ReadOptions) -> None:
    with pytest.raises(ParameterError):
        open_source(_file(tmp_path, "ok.csv", "a\n1\n"), options)


# -- XLSX ----------------------------------------------------------------------------------


def _workbook(tmp_path: Path) -> Path:
    workbook = openpyxl.Workbook()
    deals = workbook.active
    assert deals is not None
    deals.title = "Deals"
    deals.append(["id", "amount", "closed", "won", "note", None])
    deals.append([1, 12.0, dt.datetime(2024, 1, 5), True, "  ", None])
    deals.append([2, 12.5, dt.datetime(2024, 1, 5, 10, 30), False, None])
    deals.append([])
    deals.append([3, None, dt.date(2024, 2, 1), None, "=cmd|' /C calc'!A0"])
    deals.append([4, -0.1, None, None, "past the header", None, "stray"])
    deals.append([10**12, 1e20, dt.time(9, 15), "yes", "@x"])
    for _ in range(3):
        deals.append([None, None])
    accounts = workbook.create_sheet("Accounts")
    accounts.append([])
    accounts.append(["name", "name", "city"])
    accounts.append(["Acme", None, "Paris"])
    path = tmp_path / "crm.xlsx"
    workbook.save(path)
    # a formula-looking string is stored as a formula by openpyxl: store it as text instead
    book = openpyxl.load_workbook(path)
    book["Deals"]["E5"].data_type = "s"
    book.save(path)
    return path


def test_xlsx_first_sheet(tmp_path: Path) -> None:
    source, records, rows = _open_read(_workbook(tmp_path))
    assert source.format == "xlsx"
    assert (source.encoding, source.delimiter) == (None, None)
    assert source.columns == ["id", "amount", "closed", "won", "note"]
    assert records == [
        {"id": "1", "amount": "12", "closed": "2024-01-05", "won": "true", "note": None},
        {"id": "2", "amount": "12.5", "closed": "2024-01-05T10:30:00", "won": "false", "note": None},
        {"id": "3", "amount": None, "closed": "2024-02-01", "won": None, "note": "=cmd|' /C calc'!A0"},
        {"id": "1000000000000", "amount": "1e+20", "closed": "09:15:00", "won": "yes", "note": "@x"},
    ]
    assert rows == [2, 3, 5, 7]
    assert source.issues == [RowIssue(6, "has a value in column G ('stray'), right of the last header column E", None)]


def test_xlsx_sheet_by_name_and_by_index(tmp_path: Path) -> None:
    path = _workbook(tmp_path)
    for sheet in ("Accounts", "accounts", 1, "1"):
        source, records, rows = _open_read(path, sheet=sheet)
        assert source.columns == ["name", "name_2", "city"]
        assert records == [{"name": "Acme", "name_2": None, "city": "Paris"}]
        assert rows == [3]  # the header is on row 2, after an empty row


def test_xlsx_unknown_sheet_lists_sheets_and_suggests(tmp_path: Path) -> None:
    path = _workbook(tmp_path)
    with pytest.raises(FileFormatError) as error:
        open_source(path, ReadOptions(sheet="Acounts"))
    message = str(error.value)
    assert f'"{path}"' in message
    assert '"Deals", "Accounts"' in message
    assert 'Did you mean "Accounts"?' in message
    with pytest.raises(FileFormatError, match="no sheet number 7"):
        open_source(path, ReadOptions(sheet=7))


def test_xlsx_skip_rows_and_batches(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Report title"])
    sheet.append(["id", "v"])
    for i in range(25):
        sheet.append([i, f"v{i}"])
    path = tmp_path / "r.xlsx"
    workbook.save(path)
    calls: list[int] = []
    source = open_source(path, ReadOptions(skip_rows=1, batch_rows=10))
    batches = list(source.batches(calls.append))
    assert [b.table.num_rows for b in batches] == [10, 10, 5]
    assert [n for b in batches for n in b.rows.to_pylist()] == list(range(3, 28))
    assert calls == sorted(calls)
    assert calls[-1] == path.stat().st_size
    assert len(calls) >= 3


def test_empty_sheet_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(FileFormatError, match="is empty"):
        open_source(path)


# -- Parquet -------------------------------------------------------------------------------


def test_parquet_round_trip(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, None, 3], pa.int64()),
            "amount": [1.5, 2.0, None],
            "price": pa.array([decimal.Decimal("1.50"), None, decimal.Decimal("-3.25")], pa.decimal128(9, 2)),
            "at": pa.array(
                [dt.datetime(2024, 1, 5, 10), dt.datetime(2024, 1, 5, 10, 0, 0, 500_000), None], pa.timestamp("us")
            ),
            "at_tz": pa.array(
                [dt.datetime(2024, 1, 5, 10, tzinfo=dt.UTC), None, dt.datetime(2024, 7, 1, tzinfo=dt.UTC)],
                pa.timestamp("ms", tz="Europe/Paris"),
            ),
            "day": pa.array([dt.date(2024, 1, 5), None, dt.date(2023, 12, 31)]),
            "won": [True, False, None],
            "name": ["Acme", "  ", "Bolt "],
            "stage": pa.array(["won", "lost", "won"]).dictionary_encode(),
            "tags": [["a", "b"], [], None],
        }
    )
    path = tmp_path / "deals.parquet"
    pq.write_table(table, path)
    source, records, rows = _open_read(path, batch_rows=2)
    assert source.format == "parquet"
    assert source.columns == table.column_names
    assert rows == [1, 2, 3]
    assert records == [
        {
            "id": "1",
            "amount": "1.5",
            "price": "1.50",
            "at": "2024-01-05T10:00:00",
            "at_tz": "2024-01-05T10:00:00+00:00",
            "day": "2024-01-05",
            "won": "true",
            "name": "Acme",
            "stage": "won",
            "tags": '["a", "b"]',
        },
        {
            "id": None,
            "amount": "2",
            "price": None,
            "at": "2024-01-05T10:00:00.500000",
            "at_tz": None,
            "day": None,
            "won": "false",
            "name": None,
            "stage": "lost",
            "tags": "[]",
        },
        {
            "id": "3",
            "amount": None,
            "price": "-3.25",
            "at": None,
            "at_tz": "2024-07-01T00:00:00+00:00",
            "day": "2023-12-31",
            "won": None,
            "name": "Bolt ",
            "stage": "won",
            "tags": None,
        },
    ]


# -- JSON and NDJSON -----------------------------------------------------------------------


def test_json_array_round_trip(tmp_path: Path) -> None:
    data = [
        {"id": 1, "name": "Acme", "meta": {"tier": "gold", "tags": ["a"]}},
        {"name": "  ", "id": 2.0, "won": True, "amount": 1.25},
        "not an object",
        {"id": None, "extra": [1, 2]},
    ]
    path = _file(tmp_path, "deals.json", json.dumps(data))
    source, records, rows = _open_read(path)
    assert source.format == "json"
    assert source.columns == ["id", "name", "meta", "won", "amount", "extra"]
    assert records == [
        {
            "id": "1",
            "name": "Acme",
            "meta": '{"tier": "gold", "tags": ["a"]}',
            "won": None,
            "amount": None,
            "extra": None,
        },
        {"id": "2", "name": None, "meta": None, "won": "true", "amount": "1.25", "extra": None},
        {"id": None, "name": None, "meta": None, "won": None, "amount": None, "extra": "[1, 2]"},
    ]
    assert rows == [1, 2, 4]
    assert source.issues == [RowIssue(3, "is a JSON string, not an object", '"not an object"')]


def test_ndjson_bad_lines_are_issues(tmp_path: Path) -> None:
    text = '{"id": 1, "name": "Acme"}\n\n{"id": 2, "city": "Lyon"}\n[1, 2]\n{"id": 3,\n{"id": 4}\n'
    calls: list[int] = []
    source = open_source(_file(tmp_path, "deals.ndjson", text), ReadOptions(batch_rows=2))
    records, rows = _read(source, calls.append)
    assert source.format == "ndjson"
    assert source.columns == ["id", "name", "city"]
    assert records == [
        {"id": "1", "name": "Acme", "city": None},
        {"id": "2", "name": None, "city": "Lyon"},
        {"id": "4", "name": None, "city": None},
    ]
    assert rows == [1, 3, 6]  # line numbers
    assert [(i.row, i.reason.split(":")[0], i.text) for i in source.issues] == [
        (4, "is a JSON array, not an object", "[1, 2]"),
        (5, "is not valid JSON", '{"id": 3,'),
    ]
    assert calls == sorted(calls)
    assert calls[-1] == source.size_bytes


def test_json_extension_with_one_object_per_line_is_read_as_ndjson(tmp_path: Path) -> None:
    path = _file(tmp_path, "export.json", b'\xef\xbb\xbf{"a": 1}\n{"a": 2, "b": "x"}\n')
    source, records, rows = _open_read(path)
    assert source.format == "ndjson"
    assert source.encoding == "utf-8-sig"
    assert records == [{"a": "1", "b": None}, {"a": "2", "b": "x"}]
    assert rows == [1, 2]


# -- property: whatever the csv module writes, we read back --------------------------------

_cell = st.text(
    alphabet=st.characters(codec="utf-8", blacklist_characters="\x00"),  # no lone surrogates
    max_size=12,
)


@st.composite
def _tables(draw: st.DrawFn) -> tuple[int, list[list[str]]]:
    width = draw(st.integers(min_value=1, max_value=5))
    rows = draw(st.lists(st.lists(_cell, min_size=width, max_size=width), max_size=30))
    return width, rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=_tables(),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig"]),
    terminator=st.sampled_from(["\r\n", "\n"]),
)
def test_csv_round_trip(table: tuple[int, list[list[str]]], delimiter: str, encoding: str, terminator: str) -> None:
    width, rows = table
    header = [f"c{i}" for i in range(width)]
    buffer = io.StringIO()
    # Python 3.11's writer quotes a value holding "\r" only if "\r" is in its line terminator
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_MINIMAL if terminator == "\r\n" else csv.QUOTE_ALL
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    writer.writerow(header)
    writer.writerows(rows)
    expected_records = []
    expected_rows = []
    for number, row in enumerate(rows, start=2):
        values = {name: (None if not value.strip() else value) for name, value in zip(header, row, strict=True)}
        if any(v is not None for v in values.values()):
            expected_records.append(values)
            expected_rows.append(number)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        path.write_bytes(buffer.getvalue().encode(encoding))
        # one column: nothing tells the delimiter apart, so it is given
        options = ReadOptions(delimiter=delimiter if width == 1 else None, batch_rows=7)
        source = open_source(path, options)
        records, numbers = _read(source)
        careful = _careful(source, batch_rows=7)
    assert source.delimiter == delimiter
    assert source.encoding == encoding
    assert source.columns == header
    assert records == expected_records
    assert numbers == expected_rows
    assert source.issues == []
    assert careful == (expected_records, expected_rows, [])
