"""The canonical data model (KPIS.md section 1) as data.

Every room reads the tables from here: ingest validates rows against it, the store creates
its tables from the migrations that mirror it (a test keeps the two in step), the demo
generator writes it. Nothing here knows a file format or a database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class ColumnType(enum.Enum):
    STRING = "string"
    TIMESTAMP = "timestamp"  # stored in UTC, without zone
    DATE = "date"
    FLOAT = "float"
    INTEGER = "integer"
    PERIOD = "period"  # a period label: 2017, 2017-Q1, 2017-03, 2017-W11, 2017-03-14


class Outcome(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Role(enum.StrEnum):
    SDR = "sdr"
    AE = "ae"
    AM = "am"
    MANAGER = "manager"


class ActivityType(enum.StrEnum):
    CALL = "call"
    EMAIL = "email"
    MESSAGE = "message"
    MEETING = "meeting"
    DEMO = "demo"
    PROPOSAL = "proposal"
    SIGNATURE = "signature"
    OTHER = "other"


class OpportunityType(enum.StrEnum):
    NEW = "new"
    RENEWAL = "renewal"
    UPSELL = "upsell"


class LossReason(enum.StrEnum):
    BAD_TARGET = "bad_target"
    NO_PAIN = "no_pain"
    NO_FIT = "no_fit"
    COMPETITOR = "competitor"
    BUDGET = "budget"
    TIMING = "timing"
    NO_DECISION = "no_decision"
    OTHER = "other"


class CostCategory(enum.StrEnum):
    MARKETING = "marketing"
    SALES = "sales"


class TargetScope(enum.StrEnum):
    COMPANY = "company"
    TEAM = "team"
    REP = "rep"


class ForecastCategory(enum.StrEnum):
    COMMIT = "commit"
    BEST_CASE = "best_case"
    PIPELINE = "pipeline"
    OMITTED = "omitted"


# The funnel (KPIS.md section 5): its steps, and the reference conversion rates between them.
FUNNEL_STEPS: tuple[str, ...] = ("call", "lead", "opportunity", "signature")
REFERENCE_RATES: dict[str, float] = {
    "call_to_lead": 0.10,
    "lead_to_opportunity": 0.33,
    "opportunity_to_signature": 0.33,
}

QUALIFICATION_FIELDS: tuple[str, ...] = (
    "pain_point",
    "objective",
    "success_criteria",
    "competition",
    "budget",
    "decision_date",
)


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = ColumnType.STRING
    required: bool = False
    enum: tuple[str, ...] | None = None
    non_negative: bool = False
    positive: bool = False
    references: str | None = None  # "table.column": an unknown value is a warning, not a reject
    default: str | None = None  # value used when the file does not give one
    unknown_enum_to: str | None = None  # for free-text enums: unknown values map here
    keep_text_in: str | None = None  # ... and the source text is kept in this column
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str
    natural_key: bool = False  # key is a combination of data columns (no external id)
    column_map: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_map", {c.name: c for c in self.columns})

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        return self.column_map[name]


def _values(e: type[enum.StrEnum]) -> tuple[str, ...]:
    return tuple(m.value for m in e)


S, TS, D, F, INT, P = (
    ColumnType.STRING,
    ColumnType.TIMESTAMP,
    ColumnType.DATE,
    ColumnType.FLOAT,
    ColumnType.INTEGER,
    ColumnType.PERIOD,
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "reps",
            (
                Column("rep_id", S, required=True, description="external id of the sales person"),
                Column("name", S),
                Column("email", S),
                Column("team", S),
                Column("manager_id", S, references="reps.rep_id"),
                Column("role", S, enum=_values(Role)),
                Column("active_from", D),
                Column("active_to", D),
            ),
            key=("rep_id",),
            description="a sales person",
        ),
        Table(
            "accounts",
            (
                Column("account_id", S, required=True),
                Column("name", S),
                Column("segment", S),
                Column("industry", S),
                Column("country", S),
                Column("employees", INT, non_negative=True),
                Column("created_at", TS),
            ),
            key=("account_id",),
            description="a company, prospect or customer",
        ),
        Table(
            "leads",
            (
                Column("lead_id", S, required=True),
                Column("created_at", TS, required=True),
                Column("channel", S, description="lead source"),
                Column("campaign", S),
                Column("account_id", S, references="accounts.account_id"),
                Column("owner_id", S, references="reps.rep_id"),
                Column("status", S),
                Column("disqualified_reason", S),
            ),
            key=("lead_id",),
            description="a company or person showing interest",
        ),
        Table(
            "opportunities",
            (
                Column("opportunity_id", S, required=True),
                Column("created_at", TS, required=True),
                Column("lead_id", S, references="leads.lead_id"),
                Column("account_id", S, references="accounts.account_id"),
                Column("owner_id", S, references="reps.rep_id"),
                Column("stage", S),
                Column("amount", F, non_negative=True),
                Column("margin", F),
                Column("currency", S),
                Column("expected_close_date", D),
                Column("closed_at", TS),
                Column("outcome", S, required=True, enum=_values(Outcome)),
                Column(
                    "loss_reason",
                    S,
                    enum=_values(LossReason),
                    unknown_enum_to="other",
                    keep_text_in="loss_reason_text",
                ),
                Column("loss_reason_text", S, description="the source's own words for the loss"),
                Column("competitor", S),
                Column("product", S),
                Column("channel", S, description="defaults to the lead's channel at query time"),
                Column("type", S, enum=_values(OpportunityType), default="new"),
                Column("forecast_category", S, enum=_values(ForecastCategory)),
                *(Column(q, S, description="qualification field") for q in QUALIFICATION_FIELDS),
            ),
            key=("opportunity_id",),
            description="a concrete project following a lead",
        ),
        Table(
            "stage_changes",
            (
                Column("opportunity_id", S, required=True, references="opportunities.opportunity_id"),
                Column("stage", S, required=True),
                Column("entered_at", TS, required=True),
                Column("amount", F, non_negative=True),
                Column("expected_close_date", D),
            ),
            key=("opportunity_id", "stage", "entered_at"),
            description="an opportunity entering a stage",
            natural_key=True,
        ),
        Table(
            "activities",
            (
                Column("activity_id", S, required=True),
                Column("rep_id", S, required=True, references="reps.rep_id"),
                Column("type", S, required=True, enum=_values(ActivityType)),
                Column("occurred_at", TS, required=True),
                Column("lead_id", S, references="leads.lead_id"),
                Column("opportunity_id", S, references="opportunities.opportunity_id"),
                Column("account_id", S, references="accounts.account_id"),
            ),
            key=("activity_id",),
            description="one action of a rep",
        ),
        Table(
            "contracts",
            (
                Column("contract_id", S, required=True),
                Column("account_id", S, required=True, references="accounts.account_id"),
                Column("start_date", D, required=True),
                Column("end_date", D),
                Column(
                    "value", F, non_negative=True, description="yearly value, or the total when term_months is given"
                ),
                Column("term_months", INT, positive=True),
                Column("currency", S),
                Column("opportunity_id", S, references="opportunities.opportunity_id"),
                Column("renews_contract_id", S, references="contracts.contract_id"),
            ),
            key=("contract_id",),
            description="a signed contract",
        ),
        Table(
            "costs",
            (
                Column("period_start", D, required=True),
                Column("amount", F, required=True, non_negative=True),
                Column("category", S, enum=_values(CostCategory)),
                Column("channel", S),
                Column("campaign", S),
                Column("period_end", D),
                Column("currency", S),
            ),
            key=("period_start", "category", "channel", "campaign"),
            description="money spent to acquire customers",
            natural_key=True,
        ),
        Table(
            "web_traffic",
            (
                Column("date", D, required=True),
                Column("channel", S),
                Column("visitors", INT, non_negative=True),
                Column("contacts", INT, non_negative=True),
            ),
            key=("date", "channel"),
            description="one day of website funnel",
            natural_key=True,
        ),
        Table(
            "campaign_stats",
            (
                Column("date", D, required=True),
                Column("campaign", S, required=True),
                Column("channel", S),
                Column("impressions", INT, non_negative=True),
                Column("clicks", INT, non_negative=True),
                Column("engagements", INT, non_negative=True),
            ),
            key=("date", "campaign", "channel"),
            description="one day of a marketing campaign",
            natural_key=True,
        ),
        Table(
            "market_size",
            (
                Column("period_start", D, required=True),
                Column("value", F, required=True, non_negative=True),
                Column("segment", S),
                Column("country", S),
                Column("period_end", D),
            ),
            key=("period_start", "segment", "country"),
            description="the size of a market",
            natural_key=True,
        ),
        Table(
            "targets",
            (
                Column("period", P, required=True),
                Column("metric", S, required=True),
                Column("value", F, required=True),
                Column("scope", S, enum=_values(TargetScope), default="company"),
                Column("scope_id", S),
            ),
            key=("period", "metric", "scope", "scope_id"),
            description="an objective",
            natural_key=True,
        ),
        Table(
            "fx_rates",
            (
                Column("date", D, required=True),
                Column("currency", S, required=True),
                Column("rate_to_base", F, required=True, positive=True),
            ),
            key=("date", "currency"),
            description="a currency rate",
            natural_key=True,
        ),
    )
}

# Order in which tables are best imported so that references resolve.
IMPORT_ORDER: tuple[str, ...] = tuple(TABLES)


def table(name: str) -> Table:
    """The canonical table ``name``; raises ``KeyError`` for an unknown name."""
    return TABLES[name]
