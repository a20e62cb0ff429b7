-- The handler's web workspace (issue 13): single-use sign-in links and sessions. Only SHA-256
-- hashes of the tokens are stored, never the tokens themselves.
CREATE TABLE web_links (
    token_hash   TEXT PRIMARY KEY,
    email        TEXT NOT NULL,
    -- The hash of the random cookie of the browser that asked: the link works in that browser only.
    browser_hash TEXT NOT NULL,
    -- The outbox row that carries the link; its body is blanked once the link is used.
    message_id   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX web_links_expiry ON web_links (expires_at);

CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
