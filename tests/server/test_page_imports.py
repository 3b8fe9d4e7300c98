"""The imports page and API over a store of their own: an uploaded CSV lands with exact row
counts (checked by SQL), a bad row is rejected with its row and column while the good rows land
(docs/importing.md), the preview and refused uploads write nothing, a failed import leaves the
store as it was, and only an admin with the CSRF token may import."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from tests.server.conftest import screenshot, sign_in
from tests.server.writes_helpers import bearer, csrf_of, own_site, scalar, session, sql

from salespilot.errors import InternalError

LEADS = (
    "Lead ID,Created At,Channel,Extra\n"
    "IMP-1,2026-01-05,web,a\n"
    "IMP-2,2026-01-06,referral,b\n"
    "IMP-3,2026-13-01,web,c\n"  # row 4 (the header is row 1): no such month
    "IMP-4,2026-01-08,,d\n"
    "IMP-5,2026-01-09,web,e\n"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with own_site(tmp_path_factory.mktemp("imports")) as found:
        yield found


def _counts(site: dict[str, Any]) -> tuple[int, int, int]:
    """Leads, imports and rejects in the store."""
    row = sql(
        site,
        "SELECT (SELECT count(*) FROM leads) AS leads, (SELECT count(*) FROM imports) AS imports, "
        "(SELECT count(*) FROM import_rejects) AS rejects",
    )[0]
    return int(row["leads"]), int(row["imports"]), int(row["rejects"])


def _pending(site: dict[str, Any]) -> int:
    page = httpx.get(site["url"] + "/api/v1/pages/imports", headers=bearer(site, "admin"), timeout=60)
    return int(page.json()["data"]["pending_uploads"])


def _leads(prefix: str, rows: int = 3) -> str:
    lines = [f"{prefix}-{i},2026-02-{i + 1:02d},web" for i in range(rows)]
    return "Lead ID,Created At,Channel\n" + "\n".join(lines) + "\n"


def _upload(client: httpx.Client, csrf: str, name: str, text: str, table: str = "") -> httpx.Response:
    files = {"file": (name, text.encode("utf-8"), "text/csv")}
    return client.post("/imports/upload", data={"csrf": csrf, "table": table}, files=files)


def test_an_upload_is_previewed_then_lands_with_its_rejects(site: dict[str, Any]) -> None:
    before = _counts(site)
    with session(site, "admin@example.com") as client:
        csrf = csrf_of(client, "/imports")
        sent = _upload(client, csrf, "new_leads.csv", LEADS)
        assert sent.status_code == 303, sent.text
        target = sent.headers["location"]
        upload_id = parse_qs(urlparse(target).query)["upload"][0]
        page = client.get(target)
        assert page.status_code == 200, page.text
        # the table is guessed from the name, the columns mapped automatically (Extra is ignored)
        assert 'name="col.lead_id"' in page.text and '<option value="Lead ID" selected>' in page.text
        preview = re.search(r'data-table="preview">.*?<tbody>(.*?)</tbody>', page.text, re.S)
        assert preview is not None and preview.group(1).count("<tr>") == 4  # the four good rows
        problems = re.search(r'data-table="problems">.*?<tbody>(.*?)</tbody>', page.text, re.S)
        assert problems is not None and problems.group(1).count("<tr>") == 1
        assert 'data-value="4"' in problems.group(1) and "Created At" in problems.group(1)
        assert "Extra" in page.text
        assert _counts(site) == before  # the preview wrote nothing
        done = client.post(f"/imports/{upload_id}/confirm", data={"csrf": csrf, "table": "leads"})
        assert done.status_code == 303, done.text
        import_id = int(parse_qs(urlparse(done.headers["location"]).query)["import"][0])
        result = client.get(done.headers["location"])
        assert result.status_code == 200 and 'id="import-result"' in result.text
        rejects = re.search(r'data-table="rejects">.*?<tbody>(.*?)</tbody>', result.text, re.S)
        assert rejects is not None and "2026-13-01" in rejects.group(1) and "Created At" in rejects.group(1)
        # the upload is gone once imported
        assert client.get(target).status_code == 400
    leads, imports, rejected = _counts(site)
    assert (leads, imports, rejected) == (before[0] + 4, before[1] + 1, before[2] + 1)
    assert scalar(site, "SELECT count(*) FROM leads WHERE lead_id LIKE 'IMP-%'") == 4
    assert scalar(site, "SELECT count(*) FROM leads WHERE lead_id = 'IMP-3'") == 0
    record = sql(site, "SELECT * FROM imports WHERE import_id = ?", [import_id])[0]
    assert (record["rows_read"], record["inserted"], record["rejected"]) == (5, 4, 1)
    assert record["table_name"] == "leads" and record["mapping"] == "automatic"
    assert record["file"] == "upload: new_leads.csv"  # the upload's name, not the server's temporary copy
    reject = sql(site, "SELECT row_number, column_name, value FROM import_rejects WHERE import_id = ?", [import_id])
    assert reject == [{"row_number": 4, "column_name": "Created At", "value": "2026-13-01"}]
    channels = sql(site, "SELECT lead_id, channel FROM leads WHERE lead_id LIKE 'IMP-%' ORDER BY lead_id")
    assert [r["channel"] for r in channels] == ["web", "referral", None, "web"]


def test_the_mapping_is_edited_in_the_form(site: dict[str, Any]) -> None:
    text = "Id,When,Source\nMAP-1,2026-03-01,web\nMAP-2,2026-03-02,event\n"
    before = _counts(site)
    with session(site, "admin@example.com") as client:
        csrf = csrf_of(client, "/imports")
        sent = _upload(client, csrf, "export.csv", text)  # neither its name nor its columns say the table
        upload_id = parse_qs(urlparse(sent.headers["location"]).query)["upload"][0]
        page = client.get("/imports", params={"upload": upload_id})
        assert "sp-error" in page.text and 'data-table="preview"' not in page.text
        page = client.get("/imports", params={"upload": upload_id, "table": "leads"})
        assert "lead_id" in page.text and "Id" in page.text and 'data-table="preview"' not in page.text
        mapped = {"col.lead_id": "Id", "col.created_at": "When", "col.channel": "Source"}
        page = client.get("/imports", params={"upload": upload_id, "table": "leads", "mapped_for": "leads", **mapped})
        preview = re.search(r'data-table="preview">.*?<tbody>(.*?)</tbody>', page.text, re.S)
        assert preview is not None and preview.group(1).count("<tr>") == 2 and "MAP-2" in preview.group(1)
        assert _counts(site) == before
        form = {"csrf": csrf, "table": "leads", "mapped_for": "leads", **mapped}
        done = client.post(f"/imports/{upload_id}/confirm", data=form)
        assert done.status_code == 303 and "import=" in done.headers["location"]
    rows = sql(site, "SELECT lead_id, channel FROM leads WHERE lead_id LIKE 'MAP-%' ORDER BY lead_id")
    assert rows == [{"lead_id": "MAP-1", "channel": "web"}, {"lead_id": "MAP-2", "channel": "event"}]
    assert scalar(site, "SELECT mapping FROM imports ORDER BY import_id DESC LIMIT 1") == "given as data"
    assert _counts(site)[0] == before[0] + 2


def test_the_api_previews_imports_and_pages_the_rejects(site: dict[str, Any]) -> None:
    admin = bearer(site, "admin")
    url = site["url"] + "/api/v1/imports"
    text = _leads("API", 3) + "API-bad,someday,web\nAPI-bad2,,web\n"
    before = _counts(site)
    files = {"file": ("leads_api.csv", text.encode(), "text/csv")}
    dry = httpx.post(url, params={"dry_run": "true"}, files=files, headers=admin, timeout=60)
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert body["table"] == "leads" and len(body["rows"]) == 3 and body["file"] == "leads_api.csv"
    assert {(p["row"], p["column"]) for p in body["problems"]} == {(5, "Created At"), (6, "Created At")}
    assert _counts(site) == before  # a dry run writes nothing
    done = httpx.post(url, files=files, headers=admin, timeout=60)
    assert done.status_code == 201, done.text
    result = done.json()
    assert (result["rows_read"], result["inserted"], result["rejected"]) == (5, 3, 2)
    assert result["file"] == "upload: leads_api.csv"  # as the import log records it
    assert _counts(site) == (before[0] + 3, before[1] + 1, before[2] + 2)
    listed = httpx.get(url, params={"limit": 2}, headers=admin).json()
    assert listed["total"] == before[1] + 1 and len(listed["items"]) == 2
    assert (
        listed["items"][0]["import_id"] == result["import_id"] and listed["items"][0]["file"] == "upload: leads_api.csv"
    )
    rejects = httpx.get(f"{url}/{result['import_id']}/rejects", params={"limit": 1, "offset": 1}, headers=admin)
    page = rejects.json()
    assert page["total"] == 2 and len(page["items"]) == 1
    assert (page["items"][0]["row"], page["items"][0]["column"]) == (6, "Created At")
    assert httpx.get(f"{url}/9999/rejects", headers=admin).status_code == 404
    # a mapping as JSON: the content of a mapping file
    mapping = {"table": "leads", "columns": {"lead_id": "Id", "created_at": "When"}}
    other = {"file": ("x.csv", b"Id,When\nJSON-1,2026-04-01\n", "text/csv")}
    done = httpx.post(url, files=other, data={"mapping": json.dumps(mapping)}, headers=admin, timeout=60)
    assert done.status_code == 201 and done.json()["inserted"] == 1
    assert scalar(site, "SELECT count(*) FROM leads WHERE lead_id = 'JSON-1'") == 1


def test_the_warnings_of_an_import_are_shown_not_only_counted(site: dict[str, Any]) -> None:
    admin = bearer(site, "admin")
    text = "Lead ID,Created At,Channel,owner_id\nWARN-1,2026-03-01,web,R9999\nWARN-2,2026-03-02,web,R9999\n"
    files = {"file": ("leads_warn.csv", text.encode(), "text/csv")}
    done = httpx.post(site["url"] + "/api/v1/imports", files=files, headers=admin, timeout=60)
    assert done.status_code == 201, done.text
    assert done.json()["inserted"] == 2 and done.json()["warnings"] == 2  # kept, with a warning
    import_id = done.json()["import_id"]
    warned = httpx.get(f"{site['url']}/api/v1/imports/{import_id}/warnings", headers=admin).json()["items"]
    assert len(warned) == 1
    assert (warned[0]["column"], warned[0]["value"], warned[0]["rows"]) == ("owner_id", "R9999", 2)
    assert warned[0]["first_row"] == 2 and warned[0]["reason"]
    page = httpx.get(site["url"] + "/imports", params={"import": import_id}, headers=admin, timeout=60).text
    table = re.search(r'<table[^>]*data-table="warnings".*?</table>', page, re.S)
    assert table is not None and "R9999" in table.group(0) and html.escape(warned[0]["reason"]) in table.group(0)
    assert httpx.get(f"{site['url']}/api/v1/imports/9999/warnings", headers=admin).status_code == 404


def test_the_preview_tells_what_the_import_will_reject_and_warn_about(site: dict[str, Any]) -> None:
    """A key given twice in the file and an unknown owner show in the preview (page and API) as the
    import then records them: the same rows, values and reasons."""
    admin = bearer(site, "admin")
    text = (
        "lead_id,created_at,channel,owner_id\n"
        "TWICE-1,2026-03-01,web,\n"
        "TWICE-2,2026-03-02,web,R-GHOST\n"
        "TWICE-1,2026-03-03,event,\n"  # row 4 repeats row 2's key: rejected, the first one wins
        "TWICE-3,2026-03-04,web,R-GHOST\n"
    )
    files = {"file": ("data.csv", text.encode(), "text/csv")}  # a name that says nothing: the columns do
    before = _counts(site)
    dry = httpx.post(site["url"] + "/api/v1/imports", params={"dry_run": "true"}, files=files, headers=admin)
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert body["table"] == "leads"
    assert [r["lead_id"] for r in body["rows"]] == ["TWICE-1", "TWICE-2", "TWICE-3"]
    assert [(p["row"], p["value"]) for p in body["problems"]] == [(4, "TWICE-1")]
    assert body["problems"][0]["reason"] == "duplicate key (lead_id) already given at row 2"
    assert [(w["column"], w["value"], w["rows"], w["first_row"]) for w in body["warnings"]] == [
        ("owner_id", "R-GHOST", 2, 3)
    ]
    assert _counts(site) == before
    with session(site, "admin@example.com") as client:
        csrf = csrf_of(client, "/imports")
        sent = _upload(client, csrf, "data.csv", text)
        page = client.get(sent.headers["location"]).text
        problems = re.search(r'data-table="problems">.*?</table>', page, re.S)
        assert problems is not None and "TWICE-1" in problems.group(0) and "duplicate key" in problems.group(0)
        warned = re.search(r'data-table="warnings">.*?</table>', page, re.S)
        assert warned is not None and "R-GHOST" in warned.group(0)
        assert "4 rows read in the first batch; 1 problems; 1 warnings." in page
    done = httpx.post(site["url"] + "/api/v1/imports", files=files, headers=admin, timeout=60).json()
    assert (done["inserted"], done["rejected"], done["warnings"]) == (3, 1, 2)
    rejects = sql(site, "SELECT row_number, value, reason FROM import_rejects WHERE import_id = ?", [done["import_id"]])
    assert rejects == [{"row_number": 4, "value": "TWICE-1", "reason": body["problems"][0]["reason"]}]
    recorded = httpx.get(f"{site['url']}/api/v1/imports/{done['import_id']}/warnings", headers=admin).json()["items"]
    keys = ("column", "value", "rows", "first_row", "reason")
    assert [tuple(w[k] for k in keys) for w in recorded] == [tuple(w[k] for k in keys) for w in body["warnings"]]


def test_a_file_whose_table_cannot_be_told_says_why(site: dict[str, Any]) -> None:
    with session(site, "admin@example.com") as client:
        csrf = csrf_of(client, "/imports")
        sent = _upload(client, csrf, "export.csv", "rep_id,account_id\nX-1,A-1\n")
        page = client.get(sent.headers["location"]).text
        error = re.search(r'<p class="sp-error">(.*?)</p>', page, re.S)
        assert error is not None and "its columns fit" in error.group(1)
        assert "reps" in error.group(1) and "accounts" in error.group(1)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"table": "lead"}, "table"),
        ({"mapping": "{not json"}, "mapping"),
        ({"mapping": "[1]"}, "mapping"),
        ({"mapping": json.dumps({"columns": {"lead_id": "Nope", "created_at": "When"}}), "table": "leads"}, "Nope"),
        ({"mapping": json.dumps({"colums": {}})}, "colums"),
    ],
)
def test_bad_api_input_is_a_400_naming_the_field(site: dict[str, Any], data: dict[str, str], named: str) -> None:
    before = _counts(site)
    files = {"file": ("x.csv", b"Id,When\nBAD-1,2026-04-01\n", "text/csv")}
    response = httpx.post(site["url"] + "/api/v1/imports", files=files, data=data, headers=bearer(site, "admin"))
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert named in message and "salespilot-uploads" not in message  # the server's folder is not shown
    assert _counts(site) == before


def test_an_upload_over_the_limit_is_refused_and_writes_nothing(site: dict[str, Any]) -> None:
    big = _leads("BIG", 40_000)  # about 1.2 MB; the test server's limit is 1 MB
    assert len(big) > 1024 * 1024
    before, pending = _counts(site), _pending(site)
    files = {"file": ("leads_big.csv", big.encode(), "text/csv")}
    response = httpx.post(site["url"] + "/api/v1/imports", files=files, headers=bearer(site, "admin"), timeout=60)
    assert response.status_code == 413 and response.json()["error"]["status"] == 413

    def chunked() -> Iterator[bytes]:  # no Content-Length: the server counts the stream itself
        boundary = b"--sp-boundary"
        yield boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="leads_big.csv"\r\n\r\n'
        data = big.encode()
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]
        yield b"\r\n" + boundary + b"--\r\n"

    headers = {**bearer(site, "admin"), "Content-Type": "multipart/form-data; boundary=sp-boundary"}
    streamed = httpx.post(site["url"] + "/api/v1/imports", content=chunked(), headers=headers, timeout=60)
    assert streamed.status_code == 413, streamed.text
    with session(site, "admin@example.com") as client:
        csrf = csrf_of(client, "/imports")
        form = _upload(client, csrf, "leads_big.csv", big)
        assert form.status_code == 413
    assert _counts(site) == before and _pending(site) == pending
    assert scalar(site, "SELECT count(*) FROM leads WHERE lead_id LIKE 'BIG-%'") == 0


def test_a_failed_import_leaves_the_store_unchanged(site: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from salespilot.store import loader

    def broken(*args: Any, **kwargs: Any) -> None:  # fails after the rows are merged, before commit
        raise InternalError("the import record could not be written (test)")

    before = _counts(site)
    monkeypatch.setattr(loader, "record_import", broken)
    files = {"file": ("leads_fail.csv", _leads("FAIL", 5).encode(), "text/csv")}
    url = site["url"] + "/api/v1/imports"
    response = httpx.post(url, files=files, headers=bearer(site, "admin"), timeout=60)
    assert response.status_code == 500 and "Traceback" not in response.text
    assert _counts(site) == before
    assert scalar(site, "SELECT count(*) FROM leads WHERE lead_id LIKE 'FAIL-%'") == 0
    monkeypatch.undo()
    again = httpx.post(url, files=files, headers=bearer(site, "admin"), timeout=60)
    assert again.status_code == 201 and again.json()["inserted"] == 5


def test_the_forms_need_the_csrf_token(site: dict[str, Any]) -> None:
    before, pending = _counts(site), _pending(site)
    with session(site, "admin@example.com") as client:
        csrf = csrf_of(client, "/imports")
        assert _upload(client, "", "leads_csrf.csv", _leads("CSRF")).status_code == 403
        assert _upload(client, "forged", "leads_csrf.csv", _leads("CSRF")).status_code == 403
        assert _pending(site) == pending  # a refused upload is not kept
        sent = _upload(client, csrf, "leads_csrf.csv", _leads("CSRF"))
        upload_id = parse_qs(urlparse(sent.headers["location"]).query)["upload"][0]
        assert client.post(f"/imports/{upload_id}/confirm", data={"table": "leads"}).status_code == 403
        forged = client.post(f"/imports/{upload_id}/confirm", data={"csrf": "forged", "table": "leads"})
        assert forged.status_code == 403
        assert _counts(site) == before
        # a browser session calling the API needs it too
        files = {"file": ("leads_csrf.csv", _leads("CSRF").encode(), "text/csv")}
        assert client.post("/api/v1/imports", files=files).status_code == 403
        cancel = client.post(f"/imports/{upload_id}/discard", data={"csrf": csrf})
        assert cancel.status_code == 303
    assert _counts(site) == before and _pending(site) == pending


@pytest.mark.parametrize("role", ["rep", "viewer"])
def test_only_an_admin_may_import(site: dict[str, Any], role: str) -> None:
    headers = bearer(site, role)
    url = site["url"]
    before = _counts(site)
    files = {"file": ("leads_x.csv", _leads("ROLE").encode(), "text/csv")}
    assert httpx.post(url + "/api/v1/imports", files=files, headers=headers).status_code == 403
    assert httpx.post(url + "/api/v1/imports?dry_run=true", files=files, headers=headers).status_code == 403
    assert httpx.get(url + "/api/v1/imports", headers=headers).status_code == 403
    assert httpx.get(url + "/api/v1/imports/1/rejects", headers=headers).status_code == 403
    assert httpx.get(url + "/api/v1/pages/imports", headers=headers).status_code == 403
    assert httpx.get(url + "/export/imports/imports.csv", headers=headers).status_code == 403
    with session(site, f"{role}@example.com") as client:
        page = client.get("/imports")
        assert page.status_code == 403 and "admin" in page.text
        assert 'href="/imports"' not in client.get("/").text  # no link to it either
        csrf = csrf_of(client, "/")
        assert _upload(client, csrf, "leads_x.csv", _leads("ROLE")).status_code == 403
        assert client.post("/imports/AAAAAAAAAAAAAAAAAAAAAA/confirm", data={"csrf": csrf}).status_code == 403
    assert _counts(site) == before


def test_import_in_chromium(site: dict[str, Any], browser: Any, tmp_path: Path) -> None:
    file = tmp_path / "leads_browser.csv"
    file.write_text(_leads("WEB", 6) + "WEB-bad,2026-02-31,web\n", encoding="utf-8")
    before = _counts(site)
    page = sign_in(browser, site["url"], "admin@example.com")
    page.click("a[href='/imports']")
    page.wait_for_selector("input[type=file]")
    page.set_input_files("input[name=file]", str(file))
    page.click("#upload button")
    page.wait_for_selector("[data-table=preview]")
    assert page.locator("[data-table=preview] tbody tr").count() == 6
    assert page.locator("[data-table=problems] tbody tr").count() == 1
    assert "2026-02-31" in page.locator("[data-table=problems]").inner_text()
    screenshot(page, "imports")
    assert _counts(site) == before
    page.click(".sp-confirm button")
    page.wait_for_selector("#import-result")
    counts = page.locator("[data-table=result] tbody tr")
    assert counts.count() == 6  # rows read, inserted, updated, unchanged, rejected, warnings
    shown = [counts.nth(i).locator("td").nth(1).get_attribute("data-value") for i in range(6)]
    assert shown[:5] == ["7", "6", "0", "0", "1"]
    assert page.locator("[data-table=rejects] tbody tr").count() == 1
    screenshot(page, "imports-result")
    assert not page.errors, page.errors
    assert _counts(site) == (before[0] + 6, before[1] + 1, before[2] + 1)
    assert scalar(site, "SELECT count(*) FROM leads WHERE lead_id LIKE 'WEB-%'") == 6


def test_a_forged_upload_writes_no_byte(site: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from salespilot.server.uploads import Uploads

    created: list[str] = []
    real = Uploads.new

    def watched(self: Uploads, user_id: int, name: str) -> Any:
        created.append(name)
        return real(self, user_id, name)

    monkeypatch.setattr(Uploads, "new", watched)
    with session(site, "admin@example.com") as client:
        csrf = csrf_of(client, "/imports")
        assert _upload(client, "forged", "leads_forged.csv", _leads("FORGED")).status_code == 403
        assert created == []  # refused on the token, before the file part was opened
        sent = _upload(client, csrf, "leads_good.csv", _leads("GOOD"))
        assert sent.status_code == 303 and created == ["leads_good.csv"]
        upload_id = parse_qs(urlparse(sent.headers["location"]).query)["upload"][0]
        client.post(f"/imports/{upload_id}/discard", data={"csrf": csrf})


def test_a_failed_confirm_keeps_the_edited_mapping(site: dict[str, Any]) -> None:
    text = "Id,When,Source\nKEEP-1,2026-03-01,web\n"
    before = _counts(site)
    with session(site, "admin@example.com") as client:
        csrf = csrf_of(client, "/imports")
        sent = _upload(client, csrf, "export.csv", text, "leads")
        upload_id = parse_qs(urlparse(sent.headers["location"]).query)["upload"][0]
        mapped = {"col.created_at": "When", "col.channel": "Source"}  # lead_id, required, left out
        form = {"csrf": csrf, "table": "leads", "mapped_for": "leads", **mapped}
        done = client.post(f"/imports/{upload_id}/confirm", data=form)
        assert done.status_code == 303
        back = parse_qs(urlparse(done.headers["location"]).query)
        assert back["col.created_at"] == ["When"] and back["col.channel"] == ["Source"] and "notice" in back
        page = client.get(done.headers["location"])
        assert "sp-error" in page.text and "lead_id" in page.text
        chosen = re.search(r'name="col.created_at".*?</select>', page.text, re.S)
        assert chosen is not None and 'value="When" selected' in chosen.group(0)
        client.post(f"/imports/{upload_id}/discard", data={"csrf": csrf})
    assert _counts(site) == before
