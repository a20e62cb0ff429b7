-- Find and read (issue 24). Keep in step with ../sqlite/0013_find.sql.

-- Search by name, e-mail address, reference or words of the text, with PostgreSQL's own
-- full-text search: a tsvector per case and per mail, generated from the row (so every write
-- keeps it current: intake, follow-ups, paper complaints, corrections, and retention, after
-- which only the reference and what the register keeps, the measures, are found), each with a
-- GIN index. Dutch stemming where the server has the 'dutch' configuration, 'simple' otherwise;
-- the configuration the columns use is the one the queries use (store/search.rs reads it back).
-- Adding the columns computes them for the rows there are.
DO $$
DECLARE
    cfg regconfig := CASE WHEN EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'dutch') THEN 'dutch'::regconfig ELSE 'simple'::regconfig END;
BEGIN
    EXECUTE format($sql$ALTER TABLE cases ADD COLUMN search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector(%1$L::regconfig, COALESCE(reference, '') || ' ' || COALESCE(complainant_name, '') || ' ' || COALESCE(complainant_email, '')
                  || ' ' || COALESCE(reply_to_name, '') || ' ' || COALESCE(reply_to_email, '')), 'A')
        || setweight(to_tsvector(%1$L::regconfig, COALESCE(subject, '')), 'B')
        || setweight(to_tsvector(%1$L::regconfig, COALESCE(description, '') || ' ' || COALESCE(measures, '')), 'C')) STORED$sql$, cfg);
    EXECUTE format($sql$ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (
        to_tsvector(%1$L::regconfig, COALESCE(from_address, '') || ' ' || COALESCE(subject, '') || ' ' || COALESCE(body, ''))) STORED$sql$, cfg);
    INSERT INTO settings (key, value) VALUES ('search_config', cfg::text)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
END
$$;
CREATE INDEX cases_search ON cases USING GIN (search);
CREATE INDEX messages_search ON messages USING GIN (search);

-- "My day": when each handler last marked it as seen (mail and assignments after that are new).
CREATE TABLE web_last_look (
    email     TEXT PRIMARY KEY,
    looked_at BIGINT NOT NULL
);
-- Mail by the time it came in: the new mail on a handler's cases since their last look is read
-- from the recent mail, not from all their cases.
CREATE INDEX messages_received ON messages (received_at);
