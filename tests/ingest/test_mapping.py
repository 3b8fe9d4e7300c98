"""Mapping files: their forms, and the errors a user gets for a wrong one."""

from __future__ import annotations

from pathlib import Path

import pytest

from salespilot.errors import MappingError
from salespilot.ingest.mapping import ColumnSpec, guess_table, load_mapping, normalize_name, parse_mapping, resolve
from salespilot.model import TABLES


def test_all_forms_of_a_column_source() -> None:
    mapping = parse_mapping(
        """
table: opportunities
options: {delimiter: ";", decimal: ",", thousands: " ", date_format: "%d/%m/%Y", skip_rows: 2}
columns:
  opportunity_id: Deal ID
  outcome: {column: Stage, values: {Won: won, Lost: lost, Open: open}}
  currency: {value: EUR}
  lead_id: {row_number: true}
""",
        origin="m.yaml",
    )
    assert mapping.table == "opportunities"
    assert mapping.options.delimiter == ";" and mapping.options.decimal == "," and mapping.options.skip_rows == 2
    assert mapping.columns["opportunity_id"] == ColumnSpec("opportunity_id", source="Deal ID")
    assert mapping.columns["outcome"].values == {"Won": "won", "Lost": "lost", "Open": "open"}
    assert mapping.columns["currency"].constant == "EUR"
    assert mapping.columns["lead_id"].row_number


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("table: oportunities\n", r'"oportunities" is not a table\. Did you mean "opportunities"\?'),
        (
            "table: leads\ncolumns: {lead_idd: Id}\n",
            r'"lead_idd" is not a column of table leads\. Did you mean "lead_id"',
        ),
        ("tabel: leads\n", r'unknown key "tabel"\. Did you mean "table"'),
        ("table: leads\noptions: {delimeter: ';'}\n", r'unknown option "delimeter"\. Did you mean "delimiter"'),
        ("table: leads\noptions: {decimal: ';'}\n", r"decimal must be"),
        ("table: leads\ncolumns: {lead_id: {colum: Id}}\n", r"the source of lead_id must be"),
        ("table: leads\ncolumns: [a, b]\n", r"'columns' must map"),
        ("table: [leads\n", r"not valid YAML at line 2"),
        ("- a\n- b\n", r"must be a YAML mapping"),
    ],
)
def test_mapping_mistakes_are_named(text: str, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        parse_mapping(text, origin="m.yaml")


def test_missing_source_column_suggests_the_close_one() -> None:
    mapping = parse_mapping("table: leads\ncolumns: {lead_id: Lead Id, created_at: Create Date}\n", origin="m.yaml")
    with pytest.raises(
        MappingError, match=r'column "Create Date" .*not in file leads\.csv\. Did you mean "Created Date"'
    ):
        resolve(mapping, TABLES["leads"], ["Lead Id", "Created Date"], "leads.csv")


def test_source_names_match_ignoring_case_and_spacing() -> None:
    mapping = parse_mapping("table: leads\ncolumns: {lead_id: lead id, created_at: CREATED-AT}\n", origin="m.yaml")
    specs = resolve(mapping, TABLES["leads"], ["Lead ID", "Created At"], "leads.csv")
    assert specs["lead_id"].source == "Lead ID" and specs["created_at"].source == "Created At"


def test_automatic_mapping_and_missing_required_column() -> None:
    specs = resolve(None, TABLES["leads"], ["Lead ID", "Created At", "Channel", "Unrelated"], "leads.csv")
    assert {k: v.source for k, v in specs.items()} == {
        "lead_id": "Lead ID",
        "created_at": "Created At",
        "channel": "Channel",
    }
    with pytest.raises(MappingError, match=r"leads\.csv has no column for created_at, required for table leads"):
        resolve(None, TABLES["leads"], ["Lead ID"], "leads.csv")


def test_single_column_file_hints_at_the_delimiter() -> None:
    with pytest.raises(MappingError, match="delimiter"):
        resolve(None, TABLES["leads"], ["lead_id;created_at"], "leads.csv")


def test_unknown_mapping_reference(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"neither a mapping file nor a preset"):
        load_mapping("hubspot-dealz")
    with pytest.raises(MappingError, match=r"does not exist"):
        load_mapping(tmp_path / "nope.yaml")


def test_guess_table_from_name_or_key() -> None:
    assert guess_table("Leads_2017.csv", []) == "leads"
    assert guess_table("export.csv", ["Opportunity ID", "Stage"]) == "opportunities"
    assert guess_table("export.csv", ["foo"]) is None
    assert normalize_name(" Deal - Stage ") == normalize_name("deal_stage") == normalize_name("DealStage")
    assert guess_table("Leads-Q1.csv", []) == "leads"
    # several id columns: the table with most of the file's columns (a leads export has account_id)
    leads = ["lead_id", "created_at", "channel", "campaign", "account_id", "owner_id", "status"]
    assert guess_table("data.csv", leads) == "leads"
    assert guess_table("data.csv", ["opportunity_id", "lead_id", "account_id", "stage", "amount"]) == "opportunities"
    assert guess_table("data.csv", ["rep_id", "account_id"]) is None  # as well one as the other


def test_yes_and_no_stay_text_and_a_repeated_key_is_refused() -> None:
    mapping = parse_mapping(
        "table: opportunities\ncolumns:\n  type: {column: Upsell, values: {Yes: upsell, No: new}}\n", origin="m.yaml"
    )
    assert mapping.columns["type"].values == {"Yes": "upsell", "No": "new"}
    with pytest.raises(MappingError, match=r'line 4.*"rep_id" is given twice'):
        parse_mapping("table: reps\ncolumns:\n  rep_id: a\n  rep_id: b\n", origin="m.yaml")


def test_constants_and_value_targets_are_checked_against_the_vocabulary() -> None:
    role = parse_mapping("table: reps\ncolumns: {rep_id: a, role: {value: sales}}\n", origin="m.yaml")
    with pytest.raises(MappingError, match=r'"sales" is not a value of reps\.role'):
        resolve(role, TABLES["reps"], ["a"], "f.csv")
    outcome = parse_mapping(
        "table: opportunities\ncolumns: {opportunity_id: a, created_at: b, "
        "outcome: {column: c, values: {Won: won, Lost: los}}}\n",
        origin="m.yaml",
    )
    with pytest.raises(MappingError, match=r'"los" is not a value of opportunities\.outcome\. Did you mean "lost"'):
        resolve(outcome, TABLES["opportunities"], ["a", "b", "c"], "f.csv")
    # A loss reason outside the taxonomy is allowed: it becomes "other" with its text kept.
    reason = parse_mapping(
        "table: opportunities\ncolumns: {opportunity_id: a, created_at: b, outcome: c, "
        "loss_reason: {column: d, values: {Trop cher: price}}}\n",
        origin="m.yaml",
    )
    assert resolve(reason, TABLES["opportunities"], ["a", "b", "c", "d"], "f.csv")["loss_reason"].source == "d"


def test_row_number_ids_take_a_prefix() -> None:
    mapping = parse_mapping("table: leads\ncolumns: {lead_id: {row_number: true, prefix: part1-}}\n", origin="m")
    assert mapping.columns["lead_id"].row_number and mapping.columns["lead_id"].prefix == "part1-"
