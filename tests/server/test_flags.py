"""Flags in the user's words: plain codes, dated codes, codes with a detail, a funnel step's
prefix, and an unknown code shown as it is; the table cell shows the words, exports the codes."""

from __future__ import annotations

from salespilot.server import flags
from salespilot.server.tables import Column, Table, cell_text, to_csv


def test_plain_codes_in_both_languages() -> None:
    assert flags.text(["small_sample", "immature_cohort"], "en") == "small sample, still maturing: the rate will rise"
    assert flags.text(["small_sample", "partial_period"], "fr") == "petit échantillon, période en cours"
    assert flags.text([], "fr") == "" and flags.text(None, "en") == ""
    assert set(flags.TEXT["en"]) <= set(flags.TEXT["fr"])  # every English text has its French one


def test_codes_with_a_date_or_a_detail() -> None:
    assert flags.one("joined_on_2026-03-05", "en") == "joined on Mar 5, 2026"
    assert flags.one("left_on_2026-03-05", "fr") == "parti le 5 mars 2026"
    assert flags.one("understaffed: ae needs 3.25, has 2", "fr") == "sous-effectif : AE en demande 3,3, en a 2"
    assert flags.one("small_history: 1200 closed deals", "en") == "only 1,200 closed deals to learn from"
    assert flags.one("rep_without_data: R0012", "fr").startswith("aucune donnée pour le commercial R0012")
    advice = "far_below_reference: look at the loss reasons"
    assert flags.one(advice, "fr") == "très en dessous de la référence : regarder les motifs de perte"
    assert flags.one(advice, "en") == "far below the reference: look at the loss reasons"


def test_a_steps_prefix_and_an_unknown_code() -> None:
    names = {"opportunity_to_signature": "Opportunité → signature"}
    step = flags.one("opportunity_to_signature: small_sample", "fr", names)
    assert step == "Opportunité → signature : petit échantillon"
    assert flags.one("brand_new_code", "fr") == "brand_new_code"
    assert flags.one("brand_new: with detail", "en") == "brand_new: with detail"


def test_a_flags_cell_shows_words_and_exports_codes() -> None:
    assert cell_text(["small_sample"], "flags", "fr", "EUR") == "petit échantillon"
    rows = [{"flags": ["small_sample", "no_costs"]}, {"flags": []}]
    table = Table("t", "T", [Column("flags", "Flags", "flags")], rows)
    lines = to_csv(table).decode("utf-8-sig").splitlines()
    assert lines == ["Flags", "small_sample; no_costs", '""']  # csv quotes a lone empty cell
    assert table.as_dict()["items"][0]["flags"] == ["small_sample", "no_costs"]  # the API keeps the list
