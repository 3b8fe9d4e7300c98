"""Uploaded files: streamed from the request to a private folder of the server, bounded in size.

An upload gets a random id (``secrets``) and is kept as ``<root>/<store>/<id>/<name>``: ``root``
is ``salespilot-uploads-<uid>`` in the system's temporary folder, private to the server's user
(mode 0700, checked: not a link, not someone else's), ``store`` a digest of the store's label,
and ``name`` the user's file name reduced to letters, digits, ``.``, ``-`` and ``_`` (the
importer guesses the table from it): never a path the user gave. The folder, not the memory of
one process, holds the uploads, so every worker of a server (``serve --workers``) finds them.
An upload is deleted after its import, after ``TTL_SECONDS``, when more than ``MAX_PENDING``
wait, and its store's folder when it is empty as the server stops.

The body is parsed as it arrives (python-multipart's streaming parser): the file goes to disk
chunk by chunk, never whole into memory, and the body is counted, so that a request without a
Content-Length (chunked) is cut at the limit too (``TooLarge``). Other fields are small texts
(``FIELD_BYTES`` each at most).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from salespilot.errors import ParameterError, StoreError, UserInputError
from salespilot.server.context import Context

TTL_SECONDS = 3600
MAX_PENDING = 20
FIELD_BYTES = 64 * 1024
MAX_FIELDS = 20
ROOT_PREFIX = "salespilot-uploads-"
_META = ".upload.json"
_ID = re.compile(r"[A-Za-z0-9_-]{22}")


class TooLarge(Exception):
    """The request body is over the server's upload limit."""


@dataclass(frozen=True)
class Upload:
    id: str
    path: Path
    name: str  # the user's file name, cleaned
    user_id: int


def private_root() -> Path:
    """``salespilot-uploads-<uid>`` in the temporary folder, made private, or a StoreError."""
    uid = os.getuid()
    root = Path(tempfile.gettempdir()) / f"{ROOT_PREFIX}{uid}"
    with contextlib.suppress(FileExistsError):
        root.mkdir(mode=0o700)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        raise StoreError(
            f"The upload folder {root} is not a private folder of this user (a link, another user's, or open "
            "to others): remove it, or set TMPDIR to a private folder, and start the server again."
        )
    return root


def _empty_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


class Uploads:
    """The uploads waiting for their import, for one store, in the server's private folder."""

    def __init__(self, store_label: str, ttl: float = TTL_SECONDS) -> None:
        self.root = private_root()
        self.folder = self.root / hashlib.sha256(store_label.encode("utf-8")).hexdigest()[:16]
        self.folder.mkdir(mode=0o700, exist_ok=True)
        self.ttl = ttl
        weakref.finalize(self, _empty_folder, self.folder)  # when the server goes, or at exit

    def new(self, user_id: int, filename: str) -> Upload:
        self.sweep(MAX_PENDING - 1)
        upload_id = secrets.token_urlsafe(16)
        home = self.folder / upload_id
        home.mkdir(mode=0o700)
        name = clean_name(filename)
        (home / _META).write_text(json.dumps({"user_id": user_id, "name": name}), encoding="utf-8")
        return Upload(upload_id, home / name, name, user_id)

    def get(self, upload_id: str, user_id: int) -> Upload:
        """The upload ``upload_id`` of this user, else a ParameterError naming the parameter."""
        self.sweep()
        found = self._read(upload_id) if _ID.fullmatch(upload_id or "") else None
        if found is None or found.user_id != user_id or not found.path.is_file():
            raise ParameterError(
                f"Parameter upload: no uploaded file {upload_id!r} (an upload is kept for "
                f"{int(self.ttl // 60)} minutes, until its import): upload the file again."
            )
        return found

    def _read(self, upload_id: str) -> Upload | None:
        home = self.folder / upload_id
        try:
            meta = json.loads((home / _META).read_text(encoding="utf-8"))
            name, user_id = clean_name(str(meta["name"])), int(meta["user_id"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return Upload(upload_id, home / name, name, user_id)

    def discard(self, upload: Upload) -> None:
        shutil.rmtree(self.folder / upload.id, ignore_errors=True)

    def _waiting(self) -> list[tuple[float, Path]]:
        found = []
        for home in self.folder.iterdir() if self.folder.is_dir() else ():
            with contextlib.suppress(OSError):
                if _ID.fullmatch(home.name) and home.is_dir() and not home.is_symlink():
                    found.append((home.stat().st_mtime, home))
        return sorted(found)

    def sweep(self, keep: int = MAX_PENDING) -> None:
        """Delete the uploads older than the TTL, and the oldest past ``keep``."""
        now = time.time()
        waiting = self._waiting()
        old = [home for created, home in waiting if now - created > self.ttl]
        kept = [home for created, home in waiting if now - created <= self.ttl]
        for home in old + kept[: max(0, len(kept) - keep)]:
            shutil.rmtree(home, ignore_errors=True)

    def pending(self) -> int:
        return len(self._waiting())

    @contextmanager
    def named(self, upload: Upload) -> Iterator[None]:
        """Errors about the file name it as the user knows it, not by its path on the server."""
        try:
            yield
        except UserInputError as exc:
            text = str(exc).replace(str(upload.path), upload.name).replace(str(self.root), "uploads")
            if text == str(exc):
                raise
            raise type(exc)(text) from None

    @staticmethod
    def shown(file: str | None) -> str | None:
        """A file name as recorded by an import, without the server's upload folder."""
        if file and any(p.name.startswith(ROOT_PREFIX) for p in Path(file).parents):
            return Path(file).name
        return file


def clean_name(filename: str) -> str:
    """The last part of a user's file name, with only safe characters (never a path)."""
    base = re.split(r"[\\/]", filename or "")[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")[-120:]
    return cleaned or "upload"


_BY_CONTEXT: weakref.WeakKeyDictionary[Context, Uploads] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def uploads_of(ctx: Context) -> Uploads:
    """The uploads of one server's store."""
    with _REGISTRY_LOCK:
        found = _BY_CONTEXT.get(ctx)
        if found is None:
            found = _BY_CONTEXT[ctx] = Uploads(ctx.workspace.label)
        return found


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)
    disposition: bytes = b""


class _Receiver:
    """python-multipart's callbacks: fields to memory (bounded), the file part to ``open``."""

    def __init__(
        self, uploads: Uploads, user_id: int, file_field: str, before_file: Callable[[dict[str, str]], None] | None
    ) -> None:
        self.uploads, self.user_id, self.file_field = uploads, user_id, file_field
        self.before_file = before_file
        self.fields: dict[str, str] = {}
        self.upload: Upload | None = None
        self.handle: IO[bytes] | None = None
        self.pending: list[bytes] = []
        self.part = _Part()
        self._header = b""
        self._value = b""
        self._count = 0

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self.part.disposition = self._value
        self._header, self._value = b"", b""

    def on_headers_finished(self) -> None:
        _kind, options = parse_options_header(self.part.disposition)
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        self._count += 1
        if self._count > MAX_FIELDS:
            raise ParameterError(f"The form has more than {MAX_FIELDS} fields.")
        if b"filename" in options and self.part.name == self.file_field:
            if self.upload is not None:
                raise ParameterError(f"Field {self.file_field}: send one file.")
            if self.before_file is not None:  # e.g. the CSRF check: before a byte of the file is written
                self.before_file(self.fields)
            self.part.filename = options[b"filename"].decode("utf-8", "replace")
            self.upload = self.uploads.new(self.user_id, self.part.filename)
            self.handle = self.upload.path.open("xb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.filename is not None:
            self.pending.append(data[start:end])
            return
        if len(self.part.data) + end - start > FIELD_BYTES:
            raise ParameterError(f"Field {self.part.name}: at most {FIELD_BYTES // 1024} KB.")
        self.part.data.extend(data[start:end])

    def on_part_end(self) -> None:
        if self.part.filename is None and self.part.name:
            self.fields[self.part.name] = self.part.data.decode("utf-8", "replace")

    def flush(self) -> None:
        if self.handle is not None and self.pending:
            self.handle.write(b"".join(self.pending))
        self.pending = []

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


async def receive(
    request: Request,
    uploads: Uploads,
    user_id: int,
    limit: int,
    file_field: str = "file",
    before_file: Callable[[dict[str, str]], None] | None = None,
) -> tuple[dict[str, str], Upload | None]:
    """Read a multipart/form-data body: its text fields and its file (written to ``uploads``);
    ``before_file(fields)`` runs with the fields sent before the file, before it is written (it
    may raise, e.g. a wrong CSRF token: then nothing is written).

    Raises ``TooLarge`` past ``limit`` bytes of body, ParameterError for a body that is not a
    form; on any failure the partial file is deleted."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or b"boundary" not in params:
        raise ParameterError("The body must be multipart/form-data (a form with a file field).")
    receiver = _Receiver(uploads, user_id, file_field, before_file)
    callbacks = {
        "on_part_begin": receiver.on_part_begin,
        "on_part_data": receiver.on_part_data,
        "on_part_end": receiver.on_part_end,
        "on_header_field": receiver.on_header_field,
        "on_header_value": receiver.on_header_value,
        "on_header_end": receiver.on_header_end,
        "on_headers_finished": receiver.on_headers_finished,
    }
    parser = MultipartParser(params[b"boundary"], callbacks)  # type: ignore[arg-type]
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"The request body exceeds {limit // (1024 * 1024)} MB.")
            parser.write(chunk)
            if receiver.pending:
                await run_in_threadpool(receiver.flush)
        parser.finalize()
        await run_in_threadpool(receiver.flush)
    except FormParserError:
        receiver.close()
        _drop(uploads, receiver.upload)
        raise ParameterError("The body is not a well-formed multipart form.") from None
    except BaseException:
        receiver.close()
        _drop(uploads, receiver.upload)
        raise
    receiver.close()
    return receiver.fields, receiver.upload


def _drop(uploads: Uploads, upload: Upload | None) -> None:
    if upload is not None:
        uploads.discard(upload)
