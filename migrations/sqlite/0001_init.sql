-- klachtd schema, SQLite flavour. Timestamps are Unix seconds (UTC); dates are 'YYYY-MM-DD'
-- calendar dates in Europe/Amsterdam. Keep in step with ../postgres/0001_init.sql.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Sequence numbers for case references, one row per year ('case-2026').
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE cases (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    reference         TEXT NOT NULL UNIQUE,
    status            TEXT NOT NULL DEFAULT 'open',
    source            TEXT NOT NULL,
    complainant_name  TEXT,
    complainant_email TEXT,
    reply_to_name     TEXT,
    reply_to_email    TEXT,
    postal_address    TEXT,
    subject           TEXT NOT NULL,
    description       TEXT NOT NULL,
    incomplete        TEXT NOT NULL DEFAULT '',
    received_on       TEXT NOT NULL,
    received_at       BIGINT NOT NULL,
    acknowledge_by    TEXT NOT NULL,
    progress_by       TEXT NOT NULL,
    respond_by        TEXT NOT NULL,
    acknowledged_at   BIGINT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX cases_received ON cases (received_on);

CREATE TABLE messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id      BIGINT REFERENCES cases (id),
    direction    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    dedupe_key   TEXT UNIQUE,
    message_id   TEXT,
    from_address TEXT,
    subject      TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL DEFAULT '',
    raw          BLOB,
    note         TEXT NOT NULL DEFAULT '',
    received_at  BIGINT NOT NULL
);
CREATE INDEX messages_message_id ON messages (message_id);
CREATE INDEX messages_case ON messages (case_id);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id   BIGINT NOT NULL REFERENCES messages (id),
    case_id      BIGINT REFERENCES cases (id),
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT NOT NULL
);
CREATE INDEX attachments_case ON attachments (case_id);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id         BIGINT REFERENCES cases (id),
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    recipient_name  TEXT,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    in_reply_to     TEXT,
    refs            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    claimed_by      TEXT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    smtp_reply      TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);

CREATE TABLE mailbox_state (
    folder       TEXT PRIMARY KEY,
    uidvalidity  BIGINT NOT NULL,
    last_uid     BIGINT NOT NULL,
    last_sync_at BIGINT
);

CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    folder      TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    uid         BIGINT NOT NULL,
    dedupe_key  TEXT,
    reason      TEXT NOT NULL,
    at          BIGINT NOT NULL
);

CREATE TABLE case_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_events_case ON case_events (case_id);
