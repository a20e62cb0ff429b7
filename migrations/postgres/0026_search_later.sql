-- A case's search vector, filled in after the intake's batch commits (issue 23: the intake's
-- rate on PostgreSQL). The generated column of 0013 stemmed every new complaint's text inside
-- the batch's INSERT: some 40 ms of a batch of 200 on this machine, with the rest of the batch
-- waiting for it. Now a trigger keeps the column (same expression) on every other write, and an
-- insert in a transaction that asked for it (`klachtd.search_later`, the intake's batch) leaves
-- it NULL: the daemon fills it in at once, beside the next batch (app/search_index.rs), and the
-- search looks at such a case through the same expression meanwhile (store/search.rs), so a case
-- is found from its commit on. SQLite's FTS5 triggers cost little and stay as they are.
DO $$
DECLARE
    cfg regconfig := (SELECT value FROM settings WHERE key = 'search_config')::regconfig;
BEGIN
    EXECUTE format($sql$CREATE FUNCTION case_search_vector(c cases) RETURNS tsvector LANGUAGE sql IMMUTABLE AS $f$ SELECT
        setweight(to_tsvector(%1$L::regconfig, COALESCE(c.reference, '') || ' ' || COALESCE(c.complainant_name, '') || ' ' || COALESCE(c.complainant_email, '')
                  || ' ' || COALESCE(c.reply_to_name, '') || ' ' || COALESCE(c.reply_to_email, '')), 'A')
        || setweight(to_tsvector(%1$L::regconfig, COALESCE(c.subject, '')), 'B')
        || setweight(to_tsvector(%1$L::regconfig, COALESCE(c.description, '') || ' ' || COALESCE(c.measures, '')), 'C') $f$ $sql$, cfg);
END
$$;
ALTER TABLE cases ALTER COLUMN search DROP EXPRESSION;
CREATE FUNCTION cases_search_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND current_setting('klachtd.search_later', true) = 'on' THEN
        NEW.search := NULL;
    ELSE
        NEW.search := case_search_vector(NEW);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER cases_search_kept BEFORE INSERT OR UPDATE OF reference, complainant_name, complainant_email, reply_to_name, reply_to_email,
    subject, description, measures ON cases FOR EACH ROW EXECUTE FUNCTION cases_search_kept();
CREATE INDEX cases_search_later ON cases (id) WHERE search IS NULL;
