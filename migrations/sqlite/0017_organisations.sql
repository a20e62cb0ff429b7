-- Several organisations in one deployment (issue 25). Keep in step with the other backend's
-- 0017_organisations.sql.

-- A case belongs to one organisation, named by its configured key. The cases of a database
-- from before belong to "default": the key of a configuration with one [organisation].
ALTER TABLE cases ADD COLUMN organisation TEXT NOT NULL DEFAULT 'default';
CREATE INDEX cases_organisation ON cases (organisation, id);

-- Mail is received by one organisation's mailbox, also mail that belongs to no case (set
-- aside, quarantined), which only that organisation's supervisors see.
ALTER TABLE messages ADD COLUMN organisation TEXT NOT NULL DEFAULT 'default';

-- Which organisations a handler works for (a handler may work for several). The handlers of a
-- database from before work for its one organisation.
CREATE TABLE handler_organisations (
    handler_id   BIGINT NOT NULL REFERENCES handlers (id),
    organisation TEXT NOT NULL,
    PRIMARY KEY (handler_id, organisation)
);
INSERT INTO handler_organisations (handler_id, organisation) SELECT id, 'default' FROM handlers;
