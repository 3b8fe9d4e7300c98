"""The catalogue is parsed once per text: a user's file adds to one load only, an edited file is
read again, and a bad one is refused every time."""

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
