"""Sniffing: format, text-ness, encoding and delimiter of a file, without reading it whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from salespilot.errors import FileFormatError, ParameterError
from salespilot.ingest import sniff
from salespilot.ingest.readers_base import unique_names


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- delimiter ---------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_found(delimiter: str) -> None:
    text = "\n".join(delimiter.join(row) for row in [["id", "name", "amount"], ["1", "Acme", "12"], ["2", "Bolt", "7"]])
    assert sniff.sniff_delimiter(text + "\n") == delimiter


def test_semicolon_file_with_quoted_commas_and_decimal_commas() -> None:
    text = 'nom;montant;note\n"Dupont, Jean";12,50;"a, b, c"\n"Martin, Léa";3,00;"x,y"\n'
    assert sniff.sniff_delimiter(text) == ";"


def test_comma_file_with_quoted_semicolons_newlines_and_tabs() -> None:
    text = 'id,note,owner\n1,"first; second\nthird line",ann\n2,"tab\there; again",bob\n3,plain,cid\n'
    assert sniff.sniff_delimiter(text) == ","


def test_pipe_file_whose_values_hold_commas() -> None:
    text = "id|city|amount\n1|Paris, France|1,5\n2|Lyon, France|2,5\n"
    assert sniff.sniff_delimiter(text) == "|"


def test_one_column_text_defaults_to_comma() -> None:
    assert sniff.sniff_delimiter("email\na@example.com\nb@example.com\n") == ","


def test_truncated_sample_ignores_its_last_record() -> None:
    text = 'a;b\n1;2\n3;"unfinished, with, commas'
    assert sniff.sniff_delimiter(text, complete=False) == ";"


# -- format ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("deals.csv", "csv"),
        ("deals.TSV", "csv"),
        ("deals.txt", "csv"),
        ("deals.xlsx", "xlsx"),
        ("deals.parquet", "parquet"),
        ("deals.json", "json"),
        ("deals.ndjson", "ndjson"),
        ("deals.jsonl", "ndjson"),
    ],
)
def test_format_from_extension(name: str, expected: str) -> None:
    assert sniff.detect_format(Path(name), None, b"") == expected


def test_explicit_format_wins_over_extension() -> None:
    assert sniff.detect_format(Path("export.dat"), "CSV", b"") == "csv"


def test_unknown_explicit_format_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="Supported formats: csv, xlsx, parquet, json, ndjson"):
        sniff.detect_format(Path("x.csv"), "xls", b"")


def test_unknown_extension_names_the_file_and_the_formats() -> None:
    with pytest.raises(FileFormatError) as error:
        sniff.detect_format(Path("export.dat"), None, b"id,name\n")
    message = str(error.value)
    assert '"export.dat"' in message
    assert "csv, xlsx, parquet, json, ndjson" in message
    assert "--format" in message


def test_magic_bytes_without_extension() -> None:
    assert sniff.detect_format(Path("export"), None, b"PAR1\x15\x04") == "parquet"
    assert sniff.detect_format(Path("export"), None, b"PK\x03\x04rest") == "xlsx"


def test_legacy_xls_is_refused_with_advice() -> None:
    with pytest.raises(FileFormatError, match=r"legacy Excel.*save it as \.xlsx or \.csv"):
        sniff.detect_format(Path("old.xls"), None, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


# -- text or not -------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = _file(tmp_path, "e.csv", b"")
    with pytest.raises(FileFormatError, match=r'"[^"]*e\.csv" is empty'):
        sniff.ensure_text_file(path, b"", "CSV")


def test_whitespace_only_file(tmp_path: Path) -> None:
    path = _file(tmp_path, "w.csv", b" \r\n\t\n\n")
    with pytest.raises(FileFormatError, match="only whitespace"):
        sniff.ensure_text_file(path, sniff.read_head(path), "CSV")


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        (b"id,name\n1,\x00\x00\x01\x02", "NUL bytes"),
        (b"PK\x03\x04\x14\x00\x06\x00", "XLSX workbook"),
        (b"PAR1\x15\x04\x15", "Parquet"),
        ("id,name\n".encode("utf-16"), "UTF-16"),
    ],
)
def test_binary_content_is_not_text(tmp_path: Path, data: bytes, hint: str) -> None:
    path = _file(tmp_path, "b.csv", data)
    with pytest.raises(FileFormatError) as error:
        sniff.ensure_text_file(path, sniff.read_head(path), "CSV")
    assert "is not a text file" in str(error.value)
    assert hint in str(error.value)
    assert str(path) in str(error.value)


# -- encoding ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("nom,ville\nZoé,Besançon\n".encode(), "utf-8"),
        (b"\xef\xbb\xbf" + "nom\nZoé\n".encode(), "utf-8-sig"),
        ("nom,prix\nCafé,5€\n".encode("cp1252"), "cp1252"),
        (b"nom\nCaf\xe9 \x81\n", "latin-1"),  # 0x81 is undefined in cp1252
        (b"id,name\n1,plain ascii\n", "utf-8"),
    ],
)
def test_encoding_is_sniffed(tmp_path: Path, data: bytes, expected: str) -> None:
    path = _file(tmp_path, "f.csv", data)
    assert sniff.sniff_encoding(path, sniff.read_head(path), None) == expected


def test_bad_byte_far_past_the_sample_is_found(tmp_path: Path) -> None:
    # ASCII for 2 MB, then one cp1252 byte: the whole file is cp1252 (and ASCII reads the same).
    body = "id,name\n" + "".join(f"{i},Zoe {i}\n" for i in range(150_000))  # about 2 MB
    path = _file(tmp_path, "late.csv", body.encode() + b"9,caf\xe9\n")
    assert sniff.sniff_encoding(path, sniff.read_head(path), None) == "cp1252"


def test_utf8_text_with_a_foreign_byte_late_is_an_error_not_garbled(tmp_path: Path) -> None:
    # Valid UTF-8 accents first, then a cp1252 byte: reading it all as cp1252 would garble the
    # earlier accents, so the user is told where the file breaks.
    body = "id,name\n" + "".join(f"{i},Zoé {i}\n" for i in range(150_000))
    path = _file(tmp_path, "mixed.csv", body.encode() + b"9,caf\xe9\n")
    with pytest.raises(FileFormatError, match=r"mixed\.csv.*UTF-8 up to byte offset \d+ \(line 150002\).*mixes"):
        sniff.sniff_encoding(path, sniff.read_head(path), None)


def test_decode_error_offset_across_chunk_boundaries(tmp_path: Path) -> None:
    prefix = b"a" * (sniff.CHUNK_BYTES - 1) + "é".encode()  # é straddles the first chunk boundary
    data = prefix + b"b" * 10 + b"\xff" + b"c" * 10
    path = _file(tmp_path, "x.csv", data)
    assert sniff.find_decode_error(path, "utf-8") == len(prefix) + 10
    truncated = _file(tmp_path, "y.csv", b"abc\xc3")
    assert sniff.find_decode_error(truncated, "utf-8") == 3
    assert sniff.find_decode_error(path, "latin-1") is None


def test_wrong_explicit_encoding_names_encoding_offset_and_line(tmp_path: Path) -> None:
    path = _file(tmp_path, "fr.csv", "nom\nZoe\nCafé\n".encode("cp1252"))
    with pytest.raises(FileFormatError) as error:
        sniff.sniff_encoding(path, sniff.read_head(path), "utf-8")
    message = str(error.value)
    assert str(path) in message
    assert "utf-8" in message
    assert "byte offset 11" in message
    assert "line 3" in message
    assert "0xE9" in message


def test_explicit_encoding_is_normalized(tmp_path: Path) -> None:
    path = _file(tmp_path, "f.csv", b"\xef\xbb\xbfid\n1\n")
    assert sniff.sniff_encoding(path, sniff.read_head(path), "UTF8") == "utf-8-sig"
    assert sniff.sniff_encoding(path, sniff.read_head(path), "ISO-8859-1") == "latin-1"
    assert sniff.sniff_encoding(path, sniff.read_head(path), "windows-1252") == "cp1252"


@pytest.mark.parametrize("name", ["klingon", "utf-16"])
def test_unknown_or_unsupported_encoding_is_a_parameter_error(name: str) -> None:
    with pytest.raises(ParameterError, match=name):
        sniff.normalize_encoding(name)


def test_split_lines_keeps_endings_and_quotes_do_not_matter() -> None:
    assert sniff.split_lines('a\r\nb\rc\n"d\ne"') == ["a\r\n", "b\r", "c\n", '"d\n', 'e"']


# -- header names ------------------------------------------------------------------------


def test_header_names_are_stripped_deduplicated_and_filled() -> None:
    raw = ["\ufeffid", " Name ", "name", "", "x", "x_2", "x", "  ", "NAME"]
    assert unique_names(raw) == ["id", "Name", "name_2", "column_4", "x", "x_2", "x_3", "column_8", "NAME_3"]


def test_generated_name_does_not_collide_with_a_real_one() -> None:
    assert unique_names(["column_2", ""]) == ["column_2", "column_2_2"]
