"""Guess what a file is: its format, whether it is text, its encoding and its CSV delimiter.

Pure functions over bytes and text; no reader state. Errors are ``FileFormatError`` with a
message naming the file and what was expected.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from pathlib import Path

from salespilot.errors import FileFormatError, ParameterError

FORMATS = ("csv", "xlsx", "parquet", "json", "ndjson")
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}
DELIMITERS = (",", ";", "\t", "|")
HEAD_BYTES = 8192
CHUNK_BYTES = 1 << 20
UTF8_BOM = codecs.BOM_UTF8
_ZIP_MAGIC = b"PK\x03\x04"
_PARQUET_MAGIC = b"PAR1"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / .doc
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def describe_delimiter(delimiter: str) -> str:
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    with path.open("rb") as f:
        return f.read(size)


def detect_format(path: Path, requested: str | None, head: bytes) -> str:
    """The format to read ``path`` as: the requested one, else from its extension or magic bytes."""
    if requested is not None:
        fmt = requested.strip().lower()
        if fmt not in FORMATS:
            raise ParameterError(f'Unknown file format "{requested}". Supported formats: {", ".join(FORMATS)}.')
        return fmt
    suffix = path.suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if suffix == ".xls" or head.startswith(_OLE_MAGIC):
        raise FileFormatError(
            f'"{path}" is a legacy Excel (.xls) workbook, which SalesPilot does not read. '
            "Open it in a spreadsheet program and save it as .xlsx or .csv."
        )
    what = f'the extension "{suffix}"' if suffix else "no extension"
    raise FileFormatError(
        f'"{path}" has {what}, so its format is unknown. Supported formats: '
        f"{', '.join(FORMATS)} (extensions {', '.join(sorted(EXTENSIONS))}). "
        "Rename the file or give the format explicitly (--format)."
    )


def ensure_text_file(path: Path, head: bytes, expected: str) -> None:
    """Raise unless the file looks like non-empty text (``expected`` names the format)."""
    if not head:
        raise FileFormatError(f'"{path}" is empty (0 bytes); expected a {expected} file with a header row.')
    kind = None
    if head.startswith(_ZIP_MAGIC):
        kind = "it looks like an XLSX workbook or another ZIP archive; use the xlsx format for a workbook"
    elif head.startswith(_PARQUET_MAGIC):
        kind = "it looks like a Parquet file; use the parquet format"
    elif head.startswith(_OLE_MAGIC):
        kind = "it looks like a legacy Excel (.xls) workbook; save it as .xlsx or .csv"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        kind = 'it is UTF-16 text; save it again as UTF-8 ("CSV UTF-8" in Excel)'
    elif b"\x00" in head:
        kind = "it contains NUL bytes, so it is binary data"
    if kind is not None:
        raise FileFormatError(f'"{path}" is not a text file ({kind}); expected a {expected} file.')
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            if chunk.strip():
                return
    raise FileFormatError(f'"{path}" contains only whitespace; expected a {expected} file with a header row.')


def normalize_encoding(name: str) -> str:
    """Python's canonical name of an encoding; ParameterError when unknown or not ASCII-based."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ParameterError(f'Unknown encoding "{name}". Use for example utf-8, cp1252 or latin-1.') from None
    probe = b'a,;\t|"\r\n'
    if info.decode(probe)[0] != probe.decode("ascii"):
        raise ParameterError(
            f'Encoding "{name}" is not supported (it is not ASCII-compatible). Save the file as UTF-8.'
        )
    return "latin-1" if info.name == "iso8859-1" else info.name


def find_decode_error(path: Path, encoding: str, start: int = 0) -> int | None:
    """Decode the whole file from ``start`` in chunks; return the byte offset of the first error.

    Runs in C at memory speed (pure-ASCII chunks of ASCII-based codecs are not even decoded).
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    ascii_safe = codecs.lookup(encoding).name in {"utf-8", "utf-8-sig", "cp1252", "iso8859-1"}
    offset = start
    with path.open("rb") as f:
        f.seek(start)
        while True:
            chunk = f.read(CHUNK_BYTES)
            pending = decoder.getstate()[0]
            try:
                if not chunk:
                    decoder.decode(b"", final=True)
                    return None
                if not (ascii_safe and not pending and chunk.isascii()):
                    decoder.decode(chunk)
            except UnicodeDecodeError as e:
                return offset - len(pending) + e.start
            offset += len(chunk)


def line_of(path: Path, offset: int) -> int:
    """The 1-based line holding byte ``offset``."""
    line = 1
    with path.open("rb") as f:
        while offset > 0:
            chunk = f.read(min(CHUNK_BYTES, offset))
            if not chunk:
                break
            line += chunk.count(b"\n")
            offset -= len(chunk)
    return line


def sniff_encoding(path: Path, head: bytes, requested: str | None) -> str:
    """The encoding of a text file, checked over the whole file.

    With ``requested``, the file must decode with it (else FileFormatError with the offset).
    Otherwise: UTF-8 with BOM ("utf-8-sig"), UTF-8, Windows-1252 ("cp1252"), else "latin-1".
    """
    has_bom = head.startswith(UTF8_BOM)
    if requested is not None:
        encoding = normalize_encoding(requested)
        if encoding == "utf-8" and has_bom:
            encoding = "utf-8-sig"
        _check_decodes(path, encoding, has_bom, requested)
        return encoding
    if has_bom:
        _check_decodes(path, "utf-8-sig", has_bom, "UTF-8 (the file starts with a UTF-8 byte-order mark)")
        return "utf-8-sig"
    bad = find_decode_error(path, "utf-8")
    if bad is None:
        return "utf-8"
    if _non_ascii_before(path, bad):
        # Valid UTF-8 text up to here, then a byte that is not: a file of mixed encodings. Reading it
        # all as cp1252 would garble every earlier accent, so say where the break is instead.
        raise FileFormatError(
            f'"{path}" is UTF-8 up to byte offset {bad} (line {line_of(path, bad)}), where a byte is not valid '
            "UTF-8: the file mixes encodings. Re-save it as UTF-8, or set options.encoding in a mapping file "
            "if it really is cp1252 or latin-1."
        )
    if find_decode_error(path, "cp1252") is None:
        return "cp1252"
    return "latin-1"


def _non_ascii_before(path: Path, offset: int) -> bool:
    """Whether the (valid UTF-8) bytes before ``offset`` hold any non-ASCII character."""
    with path.open("rb") as f:
        while offset > 0:
            chunk = f.read(min(CHUNK_BYTES, offset))
            if not chunk:
                return False
            if not chunk.isascii():
                return True
            offset -= len(chunk)
    return False


def _check_decodes(path: Path, encoding: str, has_bom: bool, label: str) -> None:
    start = len(UTF8_BOM) if has_bom and encoding == "utf-8-sig" else 0
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    offset = find_decode_error(path, codec, start)
    if offset is not None:
        line = line_of(path, offset)
        with path.open("rb") as f:
            f.seek(offset)
            bad = f.read(1)
        raise FileFormatError(
            f'"{path}" is not valid {label}: byte 0x{bad.hex().upper()} at byte offset {offset} '
            f"(line {line}) cannot be decoded. Give the file's real encoding (for example cp1252 "
            "or latin-1), or leave the encoding out to have it detected."
        )


def split_lines(text: str) -> list[str]:
    """Physical lines with their endings (\\n, \\r\\n or \\r), as the csv module sees them."""
    return io.StringIO(text, newline="").readlines()


def sniff_delimiter(text: str, complete: bool = True) -> str:
    """The delimiter of CSV ``text`` among ``, ; tab |``, respecting quotes.

    Each candidate splits the sample into records; the winner gives the header two or more
    fields and the most records with the header's field count (ties: the widest header, then
    the order above). One-column text gives ",". ``complete`` False means the sample may end
    in the middle of a record, so its last record is not counted.
    """
    best: tuple[float, int, int] | None = None
    choice = ","
    for rank, delimiter in enumerate(DELIMITERS):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False)
        try:
            records = [r for r in itertools.islice(reader, 200) if r]
        except csv.Error:
            continue
        if not complete and len(records) > 1:
            records.pop()
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        body = records[1:]
        agreement = sum(len(r) == width for r in body) / len(body) if body else 1.0
        score = (agreement, width, -rank)
        if best is None or score > best:
            best, choice = score, delimiter
    return choice
