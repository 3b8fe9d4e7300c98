"""The catalogue is parsed once per text: a user's file adds to one load only, an edited file is
read again, and a bad one is refused every time; every KPI is defined in English and French."""

from __future__ import annotations

from pathlib import Path

import pytest

from salespilot.metrics.catalogue import CatalogueError, load_catalogue

MINE = """
kpis:
  - name: {name}
    kind: rate
    label: {{en: Enterprise win rate, fr: Taux de signature grands comptes}}
    description: Won / closed.
    unit: rate
    direction: up
    source: opportunities
    anchor: closed_at
    where: {{outcome: [won, lost]}}
    numerator: {{outcome: won}}
    denominator: {{}}
    dimensions: [rep, team, segment]
"""


def test_a_users_file_adds_to_its_own_load_only(tmp_path: Path) -> None:
    built_in = set(load_catalogue().names())
    mine = tmp_path / "mine.yaml"
    mine.write_text(MINE.format(name="enterprise_win_rate"), encoding="utf-8")
    assert set(load_catalogue(mine).names()) == built_in | {"enterprise_win_rate"}
    assert set(load_catalogue().names()) == built_in  # the built-in list was not extended in place
    assert set(load_catalogue(mine).names()) == built_in | {"enterprise_win_rate"}  # nor defined twice


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text(MINE.format(name="first_rate"), encoding="utf-8")
    assert "first_rate" in load_catalogue(mine).names()
    mine.write_text(MINE.format(name="second_rate"), encoding="utf-8")
    names = load_catalogue(mine).names()
    assert "second_rate" in names and "first_rate" not in names


def test_a_bad_file_is_refused_every_time(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kpis: [oops", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(CatalogueError, match=r"bad\.yaml is not valid YAML"):
            load_catalogue(bad)


def test_every_built_in_kpi_is_defined_in_english_and_french() -> None:
    for kpi in load_catalogue().kpis.values():
        assert kpi.describe("en") == kpi.description and len(kpi.description) > 20, kpi.name
        assert kpi.describe("fr") == kpi.description_fr != kpi.description, kpi.name
    win_rate = load_catalogue().kpis["win_rate"]
    assert "gagnées / (gagnées + perdues)" in win_rate.describe("fr")


def test_a_users_description_is_a_text_or_both_languages(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text(MINE.format(name="plain_rate"), encoding="utf-8")
    plain = load_catalogue(mine).kpis["plain_rate"]
    assert plain.describe("fr") == plain.describe("en") == "Won / closed."  # no French: the English one
    both = MINE.format(name="both_rate").replace(
        "description: Won / closed.", "description: {en: Won / closed., fr: Gagnées / closes.}"
    )
    mine.write_text(both, encoding="utf-8")
    kpi = load_catalogue(mine).kpis["both_rate"]
    assert (kpi.describe("en"), kpi.describe("fr")) == ("Won / closed.", "Gagnées / closes.")
    for wrong in ("{fr: Gagnées / closes.}", "{en: Won., de: Gewonnen.}", "[Won]"):
        mine.write_text(MINE.format(name="bad_rate").replace("Won / closed.", wrong), encoding="utf-8")
        with pytest.raises(CatalogueError, match=r'KPI "bad_rate": description is a text, or \{en: \.\.\., fr'):
            load_catalogue(mine)
