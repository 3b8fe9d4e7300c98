"""The engine's messages a user meets on the pages, in French: each pattern against the message
the code really raises (so a reworded message fails here), and on a French page."""

from __future__ import annotations

from typing import Any

import pytest
from tests.server.page_helpers import get

from salespilot.errors import ParameterError
from salespilot.server import messages
from salespilot.server.pages.planner import PlanInputError, read


def _raised(call: Any) -> str:
    with pytest.raises((ParameterError, PlanInputError)) as caught:
        call()
    return str(caught.value)


def test_the_messages_a_page_shows_have_french_words() -> None:
    from starlette.requests import Request

    from salespilot.server.filters import parse

    def request(query: str) -> Request:
        return Request({"type": "http", "query_string": query.encode(), "headers": [], "method": "GET", "path": "/"})

    cases = {
        "grain=decade": "Paramètre grain : valeur attendue parmi month (mois), quarter (trimestre), year (année) "
        "(reçu 'decade').",
        "from=2026-13-01": "Paramètre from : date attendue au format AAAA-MM-JJ (reçu '2026-13-01').",
        "from=2026-06-01&to=2026-05-01": "Le paramètre to (2026-05-01) précède from (2026-06-01).",
    }
    for query, french in cases.items():
        assert messages.text(_raised(lambda q=query: parse(request(q))), "fr") == french
    said = _raised(lambda: read({"revenue": "abc"}))
    assert messages.text(said, "fr") == "Paramètre revenue : nombre supérieur à 0 attendu (reçu 'abc')."
    assert messages.text(said, "en") == said
    assert messages.text("Something we do not know.", "fr") == "Something we do not know."


def test_an_error_page_speaks_french(server: dict[str, Any]) -> None:
    page = get(server, "/funnel", "rep", grain="decade")
    assert page.status_code == 400
    assert "Paramètre grain : valeur attendue parmi month (mois), quarter (trimestre), year (année)" in page.text


def test_a_rep_asking_the_planner_per_rep_is_told_why_in_their_language(server: dict[str, Any]) -> None:
    page = get(server, "/planner", "rep", revenue="100000", rates="per-rep")
    assert page.status_code == 400
    assert "per-rep planifie une équipe à partir des taux de chacun de ses commerciaux" in page.text
    assert 'name="rates"' in page.text  # the form again, the field marked
    measured = get(server, "/planner", "rep", revenue="100000", rates="measured")
    assert measured.status_code == 200, measured.text[:500]
