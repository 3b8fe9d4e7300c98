-- 0001: the canonical tables of KPIS.md section 1, plus the store's own bookkeeping.
-- Portable SQL: runs unchanged on DuckDB and PostgreSQL. Timestamps are UTC without zone.
-- Keys are enforced by the loader (one row per key, checked in tests), not by constraints:
-- DuckDB's index maintenance would triple the cost of a bulk load.

CREATE TABLE reps (
    rep_id VARCHAR NOT NULL,
    name VARCHAR,
    email VARCHAR,
    team VARCHAR,
    manager_id VARCHAR,
    role VARCHAR,
    active_from DATE,
    active_to DATE,
    _import_id BIGINT
);

CREATE TABLE accounts (
    account_id VARCHAR NOT NULL,
    name VARCHAR,
    segment VARCHAR,
    industry VARCHAR,
    country VARCHAR,
    employees BIGINT,
    created_at TIMESTAMP,
    _import_id BIGINT
);

CREATE TABLE leads (
    lead_id VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    channel VARCHAR,
    campaign VARCHAR,
    account_id VARCHAR,
    owner_id VARCHAR,
    status VARCHAR,
    disqualified_reason VARCHAR,
    _import_id BIGINT
);

CREATE TABLE opportunities (
    opportunity_id VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    lead_id VARCHAR,
    account_id VARCHAR,
    owner_id VARCHAR,
    stage VARCHAR,
    amount DOUBLE PRECISION,
    margin DOUBLE PRECISION,
    currency VARCHAR,
    expected_close_date DATE,
    closed_at TIMESTAMP,
    outcome VARCHAR NOT NULL,
    loss_reason VARCHAR,
    loss_reason_text VARCHAR,
    competitor VARCHAR,
    product VARCHAR,
    channel VARCHAR,
    type VARCHAR,
    forecast_category VARCHAR,
    pain_point VARCHAR,
    objective VARCHAR,
    success_criteria VARCHAR,
    competition VARCHAR,
    budget VARCHAR,
    decision_date VARCHAR,
    _import_id BIGINT
);

CREATE TABLE stage_changes (
    opportunity_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    entered_at TIMESTAMP NOT NULL,
    amount DOUBLE PRECISION,
    expected_close_date DATE,
    source VARCHAR,
    _import_id BIGINT
);

CREATE TABLE activities (
    activity_id VARCHAR NOT NULL,
    rep_id VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    lead_id VARCHAR,
    opportunity_id VARCHAR,
    account_id VARCHAR,
    _import_id BIGINT
);

CREATE TABLE contracts (
    contract_id VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE,
    value DOUBLE PRECISION,
    term_months BIGINT,
    currency VARCHAR,
    opportunity_id VARCHAR,
    renews_contract_id VARCHAR,
    _import_id BIGINT
);

CREATE TABLE costs (
    period_start DATE NOT NULL,
    amount DOUBLE PRECISION NOT NULL,
    category VARCHAR,
    channel VARCHAR,
    campaign VARCHAR,
    period_end DATE,
    currency VARCHAR,
    _import_id BIGINT
);

CREATE TABLE web_traffic (
    date DATE NOT NULL,
    channel VARCHAR,
    visitors BIGINT,
    contacts BIGINT,
    _import_id BIGINT
);

CREATE TABLE campaign_stats (
    date DATE NOT NULL,
    campaign VARCHAR NOT NULL,
    channel VARCHAR,
    impressions BIGINT,
    clicks BIGINT,
    engagements BIGINT,
    _import_id BIGINT
);

CREATE TABLE market_size (
    period_start DATE NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    segment VARCHAR,
    country VARCHAR,
    period_end DATE,
    _import_id BIGINT
);

CREATE TABLE targets (
    period VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    scope VARCHAR,
    scope_id VARCHAR,
    _import_id BIGINT
);

CREATE TABLE fx_rates (
    date DATE NOT NULL,
    currency VARCHAR NOT NULL,
    rate_to_base DOUBLE PRECISION NOT NULL,
    _import_id BIGINT
);

CREATE TABLE settings (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE TABLE imports (
    import_id BIGINT PRIMARY KEY,
    table_name VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    file_sha256 VARCHAR,
    mapping VARCHAR,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    rows_read BIGINT NOT NULL,
    inserted BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    warnings BIGINT NOT NULL
);

CREATE TABLE import_rejects (
    import_id BIGINT NOT NULL,
    file VARCHAR NOT NULL,
    row_number BIGINT,
    column_name VARCHAR,
    value VARCHAR,
    reason VARCHAR NOT NULL
);

-- One row per unknown referenced value: how many rows carry it and the first of them.
CREATE TABLE import_warnings (
    import_id BIGINT NOT NULL,
    file VARCHAR NOT NULL,
    column_name VARCHAR NOT NULL,
    value VARCHAR,
    reason VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    first_row BIGINT
);

CREATE INDEX stage_changes_opportunity ON stage_changes (opportunity_id);
