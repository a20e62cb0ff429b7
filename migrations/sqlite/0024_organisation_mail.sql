-- Mail to handlers that belongs to no case comes from an organisation too (issue 25). Keep in
-- step with the other backend's 0024_organisation_mail.sql.

-- The organisation whose address a mail without a case comes from (a reminder digest, a
-- sign-in link); a case's mail comes from its case's organisation, and NULL here is the
-- deployment's first organisation.
ALTER TABLE outbox ADD COLUMN organisation TEXT;

-- A supervisor's daily count of held mail is counted per organisation, in that organisation's
-- digest: one row per supervisor, day and organisation. The counts from before were of all
-- their organisations at once: '' (the next count of each organisation starts after them).
CREATE TABLE digest_counts_by_organisation (
    recipient       TEXT NOT NULL,
    day             TEXT NOT NULL,
    organisation    TEXT NOT NULL DEFAULT '',
    last_message_id BIGINT NOT NULL,
    set_aside       BIGINT NOT NULL,
    quarantined     BIGINT NOT NULL,
    outbox_id       BIGINT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (recipient, day, organisation)
);
INSERT INTO digest_counts_by_organisation (recipient, day, organisation, last_message_id, set_aside, quarantined, outbox_id, created_at)
    SELECT recipient, day, '', last_message_id, set_aside, quarantined, outbox_id, created_at FROM digest_counts;
DROP TABLE digest_counts;
ALTER TABLE digest_counts_by_organisation RENAME TO digest_counts;
