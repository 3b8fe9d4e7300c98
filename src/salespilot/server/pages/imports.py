"""Imports (admins): upload a file, choose its table and map its columns (prefilled with the
importer's automatic mapping), preview the first rows as they would land with the problems
found (row and column), then import it and see the result and the rejected rows; the past
imports are listed. The same through the API: ``POST /api/v1/imports`` (``?dry_run=true``:
the preview), ``GET /api/v1/imports`` and ``GET /api/v1/imports/{id}/rejects``.

The uploaded file waits on the server under a random id (``salespilot.server.uploads``) and
is deleted once imported. An import is one transaction of the engine: a failure leaves the
store as it was."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from salespilot.errors import Forbidden, ParameterError, UserInputError
from salespilot.model import TABLES
from salespilot.server import api, notices, reasons, words
from salespilot.server.context import Context
from salespilot.server.pages import Page, PageQuery, View
from salespilot.server.tables import Column, Table, to_html
from salespilot.server.uploads import TooLarge, Upload, Uploads, receive, uploads_of

PREVIEW_ROWS = 20
SHOWN_IMPORTS = 50
ACCEPT = ".csv,.tsv,.txt,.xlsx,.xlsm,.parquet,.json,.ndjson,.jsonl"
TEXT = {
    "en": {
        "im_upload": "Upload a file",
        "im_file": "File (CSV, XLSX, Parquet, JSON, NDJSON)",
        "im_table": "Table",
        "im_guess": "tell from the file",
        "im_send": "Upload",
        "im_limit": "Up to {mb} MB. Nothing is written before you confirm.",
        "im_mapping": "Columns of {file}",
        "im_field": "Field",
        "im_source": "Column of the file",
        "im_none": "— not imported —",
        "im_required": "required",
        "im_refresh": "Preview with this mapping",
        "im_choose": "Choose the table this file is for.",
        "im_choose_tied": "Its name names no table, and its columns fit {tables} as well.",
        "im_choose_none": "Its name names no table, and it has none of the tables' id columns "
        "(lead_id, opportunity_id…).",
        "im_preview": "Preview: the first rows as they will land",
        "im_read": "{n} rows read in the first batch; {p} problems; {w} warnings.",
        "im_warned": "Warnings (rows loaded anyway)",
        "im_problems": "Problems (rows that will be rejected)",
        "im_row": "Row",
        "im_column": "Column",
        "im_value": "Value",
        "im_reason": "Reason",
        "im_confirm": "Import into {table}",
        "im_cancel": "Cancel",
        "im_result": "Import {id}",
        "im_rejects": "Rejected rows",
        "im_past": "Past imports",
        "im_open": "Open import",
        "im_show": "Show",
        "im_id": "Import",
        "im_when": "Finished",
        "im_mapping_used": "Mapping",
        "im_rows_read": "Rows read",
        "im_inserted": "Inserted",
        "im_updated": "Updated",
        "im_unchanged": "Unchanged",
        "im_rejected": "Rejected",
        "im_warnings": "Warnings",
        "im_rows_n": "Rows",
        "im_first_row": "First row",
        "im_what": "Count",
        "im_rows": "Rows",
        "im_ignored": "Columns ignored: {cols}.",
    },
    "fr": {
        "im_upload": "Téléverser un fichier",
        "im_file": "Fichier (CSV, XLSX, Parquet, JSON, NDJSON)",
        "im_table": "Table",
        "im_guess": "déduite du fichier",
        "im_send": "Téléverser",
        "im_limit": "Jusqu'à {mb} Mo. Rien n'est écrit avant votre confirmation.",
        "im_mapping": "Colonnes de {file}",
        "im_field": "Champ",
        "im_source": "Colonne du fichier",
        "im_none": "— non importé —",
        "im_required": "obligatoire",
        "im_refresh": "Prévisualiser avec ce mappage",
        "im_choose": "Choisissez la table à laquelle ce fichier est destiné.",
        "im_choose_tied": "Son nom ne désigne aucune table, et ses colonnes conviennent aussi bien à {tables}.",
        "im_choose_none": "Son nom ne désigne aucune table, et il n'a la colonne d'identifiant d'aucune table "
        "(lead_id, opportunity_id…).",
        "im_preview": "Aperçu : les premières lignes telles qu'elles seront chargées",
        "im_read": "{n} lignes lues dans le premier lot ; {p} problèmes ; {w} avertissements.",
        "im_warned": "Avertissements (lignes chargées quand même)",
        "im_problems": "Problèmes (lignes qui seront rejetées)",
        "im_row": "Ligne",
        "im_column": "Colonne",
        "im_value": "Valeur",
        "im_reason": "Motif",
        "im_confirm": "Importer dans {table}",
        "im_cancel": "Annuler",
        "im_result": "Import {id}",
        "im_rejects": "Lignes rejetées",
        "im_past": "Imports précédents",
        "im_open": "Ouvrir l'import",
        "im_show": "Afficher",
        "im_id": "Import",
        "im_when": "Terminé",
        "im_mapping_used": "Mappage",
        "im_rows_read": "Lignes lues",
        "im_inserted": "Insérées",
        "im_updated": "Mises à jour",
        "im_unchanged": "Inchangées",
        "im_rejected": "Rejetées",
        "im_warnings": "Avertissements",
        "im_rows_n": "Lignes",
        "im_first_row": "Première ligne",
        "im_what": "Nombre",
        "im_rows": "Lignes",
        "im_ignored": "Colonnes ignorées : {cols}.",
    },
}
COUNTS = ("rows_read", "inserted", "updated", "unchanged", "rejected", "warnings")


# -- the mapping a form or a request gives -----------------------------------------------------
def check_table(table: str | None) -> str | None:
    """``table`` (empty: None), else a ParameterError naming the parameter."""
    if not table:
        return None
    if table not in TABLES:
        raise ParameterError(
            f"Parameter table: {table!r} is not a canonical table; expected one of {', '.join(TABLES)}."
        )
    return table


def form_mapping(fields: Mapping[str, str], table: str | None) -> dict[str, Any] | None:
    """The mapping edited in the form (``col.<field>`` = a column of the file) when it was edited
    for this ``table`` (``mapped_for``); else None: the importer's automatic mapping."""
    if table is None or fields.get("mapped_for") != table:
        return None
    columns = {k[4:]: v for k, v in fields.items() if k.startswith("col.") and v}
    if not columns:
        required = ", ".join(TABLES[table].required)
        raise ParameterError(f"Mapping: no field is mapped; map at least the required fields of {table}: {required}.")
    return {"table": table, "columns": columns}


def json_mapping(raw: str | None) -> dict[str, Any] | None:
    """The ``mapping`` field of the API: a mapping file's content as a JSON object."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"Field mapping: not valid JSON ({exc.msg} at character {exc.pos}).") from None
    if not isinstance(data, dict):
        raise ParameterError(
            "Field mapping: expected a JSON object with the keys of a mapping file "
            '(table, options, columns, description), e.g. {"columns": {"lead_id": "Lead ID"}}.'
        )
    return data


def shown_import(row: dict[str, Any], uploads: Uploads) -> dict[str, Any]:
    return {**row, "file": uploads.shown(row.get("file"))}


# -- the page ------------------------------------------------------------------------------------
def _options(choices: list[str], chosen: str | None, empty: str | None) -> str:
    first = f'<option value="">{html.escape(empty)}</option>' if empty is not None else ""
    return first + "".join(
        f'<option value="{html.escape(c)}"{" selected" if c == chosen else ""}>{html.escape(c)}</option>'
        for c in choices
    )


def _upload_form(q: PageQuery) -> str:
    t, csrf = q.t, html.escape(q.viewer.csrf or "")
    note = t["im_limit"].format(mb=q.ctx.upload_limit_mb)
    return (
        f'<section class="sp-section" id="upload"><h2>{t["im_upload"]}</h2>'
        f'<form class="sp-form" method="post" action="/imports/upload" enctype="multipart/form-data">'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        f'<label>{t["im_file"]} <input type="file" name="file" required accept="{ACCEPT}"></label>'
        f'<label>{t["im_table"]} <select name="table">{_options(list(TABLES), None, t["im_guess"])}</select></label>'
        f'<p class="sp-note">{html.escape(note)}</p><button>{t["im_send"]}</button></form></section>'
    )


def warnings_table(t: dict[str, str], lang: str, title: str, rows: list[dict[str, Any]]) -> Table:
    """The warnings of an import, or those its preview foresees: column, value, reason, rows, first row."""
    return Table(
        "warnings",
        title,
        [
            Column("column", t["im_column"]),
            Column("value", t["im_value"]),
            Column("reason", t["im_reason"]),
            Column("rows", t["im_rows_n"], "count"),
            Column("first_row", t["im_first_row"]),
        ],
        [{**w, "reason": reasons.text(w.get("reason"), lang)} for w in rows],
    )


def _step(q: PageQuery, uploads: Uploads, upload: Upload, tables: list[Table]) -> str:
    """The mapping editor, the preview and the confirmation of one uploaded file."""
    t, csrf = q.t, html.escape(q.viewer.csrf or "")
    with q.ctx.writer(q.viewer.user, "import files") as ws, uploads.named(upload):
        info = ws.inspect_file(upload.path, check_table(q.params.get("table")))
    table: str | None = info["table"]
    problem = ""
    try:
        mapping = form_mapping(q.params, table)
    except ParameterError as exc:
        mapping, problem = {"columns": {}}, str(exc)
    chosen: dict[str, str] = info["automatic"] if mapping is None else mapping["columns"]
    rows = []
    for column in TABLES[table].columns if table else ():
        mark = f' <small class="sp-flag">{t["im_required"]}</small>' if column.required else ""
        rows.append(
            f'<tr><th title="{html.escape(column.description)}">{html.escape(column.name)}{mark}</th>'
            f'<td><select name="col.{html.escape(column.name)}" aria-label="{html.escape(column.name)}">'
            f"{_options(info['columns'], chosen.get(column.name), t['im_none'])}</select></td></tr>"
        )
    editor = (
        f'<form class="sp-mapping" method="get" action="/imports">'
        f'<input type="hidden" name="upload" value="{html.escape(upload.id)}">'
        f'<input type="hidden" name="mapped_for" value="{html.escape(table or "")}">'
        f'<label>{t["im_table"]} <select name="table">{_options(list(TABLES), table, t["im_guess"])}</select></label>'
        f'<table class="sp-table"><thead><tr><th>{t["im_field"]}</th><th>{t["im_source"]}</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table><button>{t['im_refresh']}</button></form>"
    )
    cancel = (
        f'<form method="post" action="/imports/{html.escape(upload.id)}/discard" class="sp-inline">'
        f'<input type="hidden" name="csrf" value="{csrf}"><button>{t["im_cancel"]}</button></form>'
    )
    head = f'<section class="sp-section" id="mapping"><h2>{html.escape(t["im_mapping"].format(file=upload.name))}</h2>'
    if table is None:
        tied = info["candidates"]
        why = t["im_choose_tied"].format(tables=", ".join(tied)) if tied else t["im_choose_none"]
        problem = f"{t['im_choose']} {why}"
    if not problem:
        try:
            with q.ctx.writer(q.viewer.user, "import files") as ws, uploads.named(upload):
                preview = ws.preview_file(upload.path, table, mapping, PREVIEW_ROWS)
        except UserInputError as exc:
            problem = str(exc)
    if problem or table is None:
        return f'{head}<p class="sp-error">{html.escape(problem)}</p>{editor}{cancel}</section>'
    landed = [c["column"] for c in preview["columns"]]
    sample = preview["rows"]
    preview_table = Table(
        "preview",
        t["im_preview"],
        [Column(c, c, "number" if any(isinstance(r.get(c), int | float) for r in sample) else "text") for c in landed],
        sample,
    )
    problems = Table(
        "problems",
        t["im_problems"],
        [
            Column("row", t["im_row"]),
            Column("column", t["im_column"]),
            Column("value", t["im_value"]),
            Column("reason", t["im_reason"]),
        ],
        [{**r, "reason": reasons.text(r.get("reason"), q.lang)} for r in preview["problems"]],
    )
    warned = warnings_table(t, q.lang, t["im_warned"], preview["warnings"])
    tables += [preview_table, problems, warned]
    hidden = "".join(
        f'<input type="hidden" name="col.{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in (mapping["columns"] if mapping else {}).items()
    )
    if mapping is not None:
        hidden += f'<input type="hidden" name="mapped_for" value="{html.escape(table)}">'
    confirm = (
        f'<form method="post" action="/imports/{html.escape(upload.id)}/confirm" class="sp-confirm">'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        f'<input type="hidden" name="table" value="{html.escape(table)}">'
        f"{hidden}<button>{html.escape(t['im_confirm'].format(table=table))}</button></form>"
    )
    read = t["im_read"].format(n=preview["rows_read"], p=len(preview["problems"]), w=len(preview["warnings"]))
    ignored = (
        f'<p class="sp-note">{html.escape(t["im_ignored"].format(cols=", ".join(preview["ignored_columns"])))}</p>'
        if preview["ignored_columns"]
        else ""
    )
    return (
        f"{head}{editor}</section>"
        f'<p class="sp-note" id="preview-summary">{html.escape(read)}</p>{ignored}'
        + to_html(preview_table, q.lang, q.currency)
        + to_html(problems, q.lang, q.currency)
        + (to_html(warned, q.lang, q.currency) if preview["warnings"] else "")
        + f'<div class="sp-actions">{confirm}{cancel}</div>'
    )


def _result(q: PageQuery, uploads: Uploads, import_id: int, tables: list[Table]) -> str:
    t = q.t
    with q.ctx.writer(q.viewer.user, "list imports") as ws:
        found = next((r for r in ws.imports()[0] if r["import_id"] == import_id), None)
        if found is None:
            ws.rejects(import_id)  # the engine's message: which imports there are
        rejects = ws.rejects(import_id, limit=200)
        warned = ws.warnings(import_id)
    assert found is not None
    counts = Table(
        "result",
        f"{t['im_result'].format(id=import_id)} · {found['table']} · {uploads.shown(found['file'])}",
        [Column("what", t["im_rows"]), Column("n", t["im_what"], "count")],
        [{"what": t[f"im_{k}"], "n": found[k], "key": k} for k in COUNTS],
    )
    shown = [{**r, "file": uploads.shown(r["file"]), "reason": reasons.text(r["reason"], q.lang)} for r in rejects]
    rejected = Table(
        "rejects",
        f"{t['im_rejects']} ({found['rejected']})",
        [
            Column("row", t["im_row"]),
            Column("column", t["im_column"]),
            Column("value", t["im_value"]),
            Column("reason", t["im_reason"]),
        ],
        shown,
    )
    warnings = warnings_table(t, q.lang, f"{t['im_warnings']} ({found['warnings']})", warned)
    tables += [counts, rejected, warnings]
    query = urlencode({"import": import_id})
    return (
        '<div id="import-result">'
        + to_html(counts, q.lang, q.currency)
        + to_html(rejected, q.lang, q.currency, "/export/imports/rejects", query)
        + (to_html(warnings, q.lang, q.currency) if warned else "")
        + "</div>"
    )


def _import_id(q: PageQuery) -> int | None:
    raw = q.params.get("import") or None
    if raw is None:
        return None
    if not raw.isdigit():
        raise ParameterError(f"Parameter import: expected an import number (got {raw!r}).")
    return int(raw)


def build(q: PageQuery) -> View:
    t = q.t
    uploads = uploads_of(q.ctx)
    tables: list[Table] = []
    notice = notices.html_of(notices.decode(q.viewer.csrf, q.params.get("notice")))
    parts = [notice]
    import_id = _import_id(q)
    if import_id is not None:  # the result of an import first, when one was just made or opened
        parts.append(_result(q, uploads, import_id, tables))
    upload_id = q.params.get("upload")
    if upload_id:
        upload = uploads.get(upload_id, q.viewer.user.user_id)
        try:
            parts.append(_step(q, uploads, upload, tables))
        except UserInputError as exc:  # the file itself cannot be read: say why, offer another
            parts.append(f'<p class="sp-error">{html.escape(str(exc))}</p>')
            parts.append(_upload_form(q))
    else:
        parts.append(_upload_form(q))
    with q.ctx.writer(q.viewer.user, "list imports") as ws:
        recent, total = ws.imports(SHOWN_IMPORTS)
    past = Table(
        "imports",
        f"{t['im_past']} ({total})",
        [
            Column("import_id", t["im_id"]),
            Column("table", t["im_table"], words=words.of("import_table", q.lang)),
            Column("file", t["im_file"].split(" (")[0]),
            Column("mapping", t["im_mapping_used"], words=words.of("import_mapping", q.lang)),
            Column("finished_at", t["im_when"], "datetime"),
            *(Column(k, t[f"im_{k}"], "count") for k in COUNTS),
        ],
        [shown_import(r, uploads) for r in recent],
        total=total,
    )
    tables.append(past)
    pick = (
        f'<form method="get" action="/imports" class="sp-inline"><label>{t["im_open"]} <select name="import">'
        f"{_options([str(r['import_id']) for r in recent], str(import_id), None)}</select></label>"
        f"<button>{t['im_show']}</button></form>"
        if recent
        else ""
    )
    parts.append(to_html(past, q.lang, q.currency, "/export/imports/imports") + pick)
    data = {"pending_uploads": uploads.pending(), "upload_limit_mb": q.ctx.upload_limit_mb}
    return View("".join(parts), tables, data)


# -- the routes that write -------------------------------------------------------------------------
def _too_large(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "too_large", "message": message, "status": 413}}, status_code=413)


def routes(app: FastAPI, ctx: Context) -> None:
    uploads = uploads_of(ctx)
    limit = ctx.upload_limit_mb * 1024 * 1024

    async def admin(request: Request) -> tuple[Any, str | None]:
        user, expected = await run_in_threadpool(ctx.current, request)
        if not user.can_write:
            raise Forbidden("Only an admin may import files.")
        return user, expected

    @app.post("/imports/upload", include_in_schema=False)
    async def upload_form(request: Request) -> Response:
        user, expected = await admin(request)  # before a byte of the body is read

        def csrf(fields: dict[str, str]) -> None:  # the form sends it before the file
            ctx.check_csrf(expected, fields.get("csrf", ""))

        try:
            fields, upload = await receive(request, uploads, user.user_id, limit, before_file=csrf)
        except TooLarge as exc:
            return _too_large(str(exc))
        try:
            ctx.check_csrf(expected, fields.get("csrf", ""))
            table = check_table(fields.get("table"))
            if upload is None:
                raise ParameterError("Field file: choose a file to upload.")
        except Exception:
            if upload is not None:
                uploads.discard(upload)
            raise
        query = {"upload": upload.id, **({"table": table} if table else {})}
        return RedirectResponse(f"/imports?{urlencode(query)}#mapping", status_code=303)

    def _import(user: Any, upload: Upload, table: str | None, mapping: dict[str, Any] | None) -> int:
        with ctx.writer(user, "import files") as ws, uploads.named(upload):
            result = ws.import_file(upload.path, table, mapping, name=f"upload: {upload.name}")
        uploads.discard(upload)
        return result.import_id

    @app.post("/imports/{upload_id}/confirm", include_in_schema=False)
    async def confirm(request: Request, upload_id: str) -> Response:
        user, expected = await admin(request)
        fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        ctx.check_csrf(expected, fields.get("csrf", ""))
        upload = uploads.get(upload_id, user.user_id)
        table = check_table(fields.get("table"))
        try:
            mapping = form_mapping(fields, table)
            import_id = await run_in_threadpool(_import, user, upload, table, mapping)
        except UserInputError as exc:
            key = notices.encode(expected, False, str(exc))
            back = {"upload": upload.id, "notice": key, **({"table": table} if table else {})}
            # the mapping as edited comes back with the page, to be fixed rather than redone
            back |= {k: v for k, v in fields.items() if k == "mapped_for" or k.startswith("col.")}
            return RedirectResponse(f"/imports?{urlencode(back)}", status_code=303)
        return RedirectResponse(f"/imports?{urlencode({'import': import_id})}#import-result", status_code=303)

    @app.post("/imports/{upload_id}/discard", include_in_schema=False)
    async def discard(request: Request, upload_id: str) -> Response:
        user, expected = await admin(request)
        fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        ctx.check_csrf(expected, fields.get("csrf", ""))
        uploads.discard(uploads.get(upload_id, user.user_id))
        return RedirectResponse("/imports", status_code=303)

    # -- the API ----------------------------------------------------------------------------------
    @app.post("/api/v1/imports", status_code=201)
    async def api_import(request: Request, dry_run: bool = False, rows: int = PREVIEW_ROWS) -> Response:
        """Import a file (multipart: ``file``, optional ``table`` and ``mapping``, a mapping file's
        content as JSON); ``dry_run=true``: the preview of its first ``rows`` rows, nothing written."""
        user, expected = await admin(request)
        if not 1 <= rows <= 1000:
            raise ParameterError(f"Parameter rows: expected 1 to 1000 (got {rows}).")

        def csrf(fields: dict[str, str]) -> None:
            ctx.check_csrf(expected, fields.get("csrf", "") or request.headers.get("x-csrf-token", ""))

        try:
            fields, upload = await receive(request, uploads, user.user_id, limit, before_file=csrf)
        except TooLarge as exc:
            return _too_large(str(exc))
        if upload is None:
            raise ParameterError("Field file: the form has no file (send it as the field 'file').")
        try:
            ctx.check_csrf(expected, fields.get("csrf", "") or request.headers.get("x-csrf-token", ""))
            table = check_table(fields.get("table"))
            mapping = json_mapping(fields.get("mapping"))

            def work() -> dict[str, Any]:
                with ctx.writer(user, "import files") as ws, uploads.named(upload):
                    if dry_run:
                        return ws.preview_file(upload.path, table, mapping, rows)
                    return ws.import_file(upload.path, table, mapping, name=f"upload: {upload.name}").as_dict()

            result = await run_in_threadpool(work)
        finally:
            uploads.discard(upload)
        return JSONResponse(api.plain(result), status_code=200 if dry_run else 201)

    @app.get("/api/v1/imports")
    def api_imports(request: Request, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """The imports, newest first."""
        user, _ = ctx.current(request)
        api.page_bounds(limit, offset)
        with ctx.writer(user, "list imports") as ws:
            items, total = ws.imports(limit, offset)
        return api.listing([api.plain(shown_import(r, uploads)) for r in items], total, limit, offset)

    @app.get("/api/v1/imports/{import_id}/warnings")
    def api_warnings(request: Request, import_id: int) -> dict[str, Any]:
        """What an import kept but warned about: column, value, reason, rows, first_row."""
        user, _ = ctx.current(request)
        with ctx.writer(user, "list imports") as ws:
            items = ws.warnings(import_id)
        return api.listing(items)

    @app.get("/api/v1/imports/{import_id}/rejects")
    def api_rejects(request: Request, import_id: int, limit: int = 200, offset: int = 0) -> dict[str, Any]:
        """The rows an import set aside, by row: row, column, value, reason."""
        user, _ = ctx.current(request)
        api.page_bounds(limit, offset)
        with ctx.writer(user, "list imports") as ws:
            items = ws.rejects(import_id, limit, offset)
            found = ws.sql("SELECT count(*) FROM import_rejects WHERE import_id = ?", [import_id])
        total = int(found.column(0)[0].as_py())
        return api.listing([{**r, "file": uploads.shown(r["file"])} for r in items], total, limit, offset)


PAGE = Page(
    name="imports",
    path="/imports",
    title={"en": "Imports", "fr": "Imports"},
    build=build,
    texts=TEXT,
    filters=(),
    slice=False,
    admin=True,
    param_docs={
        "upload": "an upload's id: its preview",
        "table": "the table the upload goes into (default: guessed from its name and columns)",
        "import": "an import's number: its result and rejects",
    },
    cache=False,  # its forms hold the session's CSRF token
    routes=routes,
)
