-- Search (issues 23 and 24): a complaint's text is stemmed once, in its case's column. The mail
-- a case was registered from (kind 'complaint', or 'letter' for one on paper) has that case's
-- description as its body, which `cases.search` holds already; stemming it again in
-- `messages.search` doubled the intake's cost of Dutch stemming (about 25 ms a batch of 200 on
-- this machine). Its sender and subject stay in the mail's column (a web form's sender is not
-- the complainant of the case). Mail about no case (set aside, quarantined) is never searched
-- (store/search.rs looks for mail with a case) and gets an empty column; a generated column is
-- computed again on every write of its row, so one given a case later would have its words.
-- Trade-off: after a handler corrects the description, the original mail's own words no longer
-- find the case here (the corrected text does); SQLite's FTS5 keeps the mail's words as well
-- (its external-content triggers are not changed: their index holds what they inserted).
-- Adding the column computes it for the rows there are, in the configuration 0013 chose.
DO $$
DECLARE
    cfg regconfig := (SELECT value FROM settings WHERE key = 'search_config')::regconfig;
BEGIN
    DROP INDEX messages_search;
    ALTER TABLE messages DROP COLUMN search;
    EXECUTE format($sql$ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (
        CASE WHEN case_id IS NULL THEN ''::tsvector
             WHEN kind IN ('complaint', 'letter') THEN to_tsvector(%1$L::regconfig, COALESCE(from_address, '') || ' ' || COALESCE(subject, ''))
             ELSE to_tsvector(%1$L::regconfig, COALESCE(from_address, '') || ' ' || COALESCE(subject, '') || ' ' || COALESCE(body, '')) END) STORED$sql$, cfg);
END
$$;
CREATE INDEX messages_search ON messages USING GIN (search);
