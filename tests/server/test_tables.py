"""Page tables: HTML cells formatted for the language, CSV and XLSX exports that a spreadsheet
cannot run as formulas, numbers kept as numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io

from openpyxl import load_workbook

from salespilot.server.tables import Column, Table, cell_text, to_csv, to_html, to_xlsx

HOSTILE = ["=1+2", "+cmd", "-2+3", "@SUM(A1)", "\tx", "plain"]


def _table() -> Table:
    rows = [{"name": text, "n": i, "rate": 0.25, "day": dt.date(2026, 5, 1)} for i, text in enumerate(HOSTILE)]
    columns = [
        Column("name", "=Name"),
        Column("n", "N", "count"),
        Column("rate", "Rate", "rate"),
        Column("day", "Day", "date"),
    ]
    return Table("t", "Title: [x]", columns, rows)


def test_csv_cells_that_start_a_formula_are_text() -> None:
    data = to_csv(_table())
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["'=Name", "N", "Rate", "Day"]
    assert [r[0] for r in rows[1:]] == ["'=1+2", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "plain"]
    assert [r[1] for r in rows[1:]] == ["0", "1", "2", "3", "4", "5"]  # numbers as they are
    assert rows[1][3] == "2026-05-01"


def test_xlsx_text_is_never_a_formula_and_numbers_stay_numbers() -> None:
    book = load_workbook(io.BytesIO(to_xlsx(_table())))
    sheet = book.active
    assert sheet.title == "Title x"  # characters a sheet name may not hold are dropped
    assert sheet["A1"].value == "=Name" and sheet["A1"].data_type == "s"
    for index, text in enumerate(HOSTILE, start=2):
        cell = sheet.cell(row=index, column=1)
        assert cell.value == text and cell.data_type == "s"  # shown as written, never evaluated
        assert sheet.cell(row=index, column=2).value == index - 2
        assert sheet.cell(row=index, column=2).data_type == "n"
    assert sheet["C2"].value == 0.25
    assert sheet["D2"].value.date() == dt.date(2026, 5, 1)


def test_html_formats_for_the_language_and_escapes() -> None:
    table = Table(
        "t", "<b>", [Column("name", "Name"), Column("rate", "Rate", "rate")], [{"name": "<script>", "rate": 0.125}]
    )
    fr = to_html(table, "fr", "EUR", "/export/p/t", "grain=month&segment=smb")
    assert "<script>" not in fr and "&lt;script&gt;" in fr and "&lt;b&gt;" in fr
    assert "12,5\u00a0%" in fr and 'data-value="0.125"' in fr
    assert 'href="/export/p/t.csv?grain=month&amp;segment=smb"' in fr
    assert "12.5%" in to_html(table, "en", "EUR")


def test_cell_text_units() -> None:
    assert cell_text(None, "count", "en", "EUR") == "–"
    assert cell_text(float("nan"), "rate", "en", "EUR") == "–"
    assert cell_text(1234, "count", "en", "EUR") == "1,234"
    assert cell_text(1234.5, "currency", "fr", "EUR") == "1\u202f235\u00a0€"
    assert cell_text(12.0, "days", "en", "EUR") == "12 days"
    assert cell_text(dt.date(2026, 1, 31), "date", "fr", "EUR") == "31 janv. 2026"
    assert cell_text("x", "text", "en", "EUR") == "x"


def test_codes_and_periods_in_words_on_the_page_as_codes_in_the_api_and_exports() -> None:
    from salespilot.server import words

    table = Table(
        "deals",
        "Deals",
        [
            Column("period", "Period", "period"),
            Column("category", "Category", words=words.of("forecast_category", "fr")),
        ],
        [{"period": "2026-06", "category": "best_case"}, {"period": "FY2026-Q1", "category": "house_special"}],
    )
    page = to_html(table, "fr", "EUR")
    assert '<td class="sp-u-period" data-value="2026-06">juin 2026</td>' in page
    assert ">meilleur cas</td>" in page and ">house_special</td>" in page  # unknown code: as it is
    assert ">FY2026-Q1</td>" in page  # a fiscal label stays the engine's
    assert table.as_dict()["items"][0] == {"period": "2026-06", "category": "best_case"}
    rows = list(csv.reader(io.StringIO(to_csv(table).decode("utf-8-sig"))))
    assert rows[1] == ["2026-06", "best_case"]


def test_a_cut_table_says_how_many_rows_are_not_shown_and_where_they_are() -> None:
    rows = [{"n": i} for i in range(250)]
    every = to_html(Table("t", "T", [Column("n", "N", "count")], rows), "fr", "EUR")
    assert "50 lignes de plus : les exports CSV et XLSX les contiennent toutes." in every
    loaded = to_html(Table("t", "T", [Column("n", "N", "count")], rows, total=1274), "en", "EUR")
    assert "1,074 more rows; the exports hold the first 250." in loaded
    assert "sp-more" not in to_html(Table("t", "T", [Column("n", "N")], rows[:3]), "en", "EUR")


def test_a_recorded_time_in_the_users_words_and_iso_in_the_api() -> None:
    table = Table("i", "I", [Column("at", "At", "datetime")], [{"at": dt.datetime(2026, 12, 7, 9, 5)}])
    assert ">7 déc. 2026, 09:05 UTC</td>" in to_html(table, "fr", "EUR")
    assert ">Dec 7, 2026, 09:05 UTC</td>" in to_html(table, "en", "EUR")
    assert table.as_dict()["items"][0]["at"] == "2026-12-07T09:05:00"


def test_an_amount_in_its_own_currency_in_one_cell() -> None:
    table = Table(
        "late",
        "Late",
        [Column("value", "Value", "money"), Column("currency", "Currency", shown=False)],
        [{"value": 12500.0, "currency": "USD"}, {"value": 900.0, "currency": None}],
    )
    page = to_html(table, "fr", "EUR")
    assert ">12\u202f500\u00a0$US</td>" in page and ">900\u00a0€</td>" in page  # no currency: the base one
    assert ">Currency</th>" not in page
    assert table.as_dict()["items"][0] == {"value": 12500.0, "currency": "USD"}  # the API keeps both
    assert list(csv.reader(io.StringIO(to_csv(table).decode("utf-8-sig"))))[1] == ["12500.0", "USD"]
