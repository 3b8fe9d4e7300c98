-- 0002: who may sign in, and what they may see (docs/access.md).
-- Portable SQL: runs unchanged on DuckDB and PostgreSQL. Timestamps are UTC without zone.
-- Ids are max + 1 taken inside the writer transaction (no sequences); e-mails are stored
-- lowercased, and their uniqueness is checked by the code first (the constraint is the net).
-- Secrets are never stored: passwords as Argon2id hashes, session and API tokens as the
-- SHA-256 of the random token (hex).

CREATE TABLE users (
    user_id BIGINT PRIMARY KEY,
    email VARCHAR NOT NULL UNIQUE,
    name VARCHAR,
    password_hash VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    rep_id VARCHAR,
    team VARCHAR,
    language VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    disabled BOOLEAN NOT NULL
);

CREATE TABLE sessions (
    token_hash VARCHAR PRIMARY KEY,
    user_id BIGINT NOT NULL,
    csrf VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE TABLE api_tokens (
    token_hash VARCHAR PRIMARY KEY,
    user_id BIGINT NOT NULL,
    name VARCHAR,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);

-- One row per sign-in attempt: ok is true (signed in), false (wrong e-mail or password), or
-- null (refused by the rate limit without checking the password; not counted as a failure).
-- The instant is attempted_at, not "at": AT is a reserved word of DuckDB's parser.
CREATE TABLE login_attempts (
    email VARCHAR NOT NULL,
    client VARCHAR NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    ok BOOLEAN
);

CREATE INDEX login_attempts_email ON login_attempts (email, attempted_at);

CREATE INDEX login_attempts_client ON login_attempts (client, attempted_at);
