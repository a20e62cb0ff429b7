-- Mail to handlers that belongs to no case comes from an organisation too (issue 25). Keep in
-- step with the other backend's 0024_organisation_mail.sql.

-- The organisation whose address a mail without a case comes from (a reminder digest, a
-- sign-in link); a case's mail comes from its case's organisation, and NULL here is the
-- deployment's first organisation.
ALTER TABLE outbox ADD COLUMN organisation TEXT;

-- A supervisor's daily count of held mail is counted per organisation, in that organisation's
-- digest: one row per supervisor, day and organisation. The counts from before were of all
-- their organisations at once: '' (the next count of each organisation starts after them).
ALTER TABLE digest_counts ADD COLUMN organisation TEXT NOT NULL DEFAULT '';
ALTER TABLE digest_counts DROP CONSTRAINT digest_counts_pkey;
ALTER TABLE digest_counts ADD PRIMARY KEY (recipient, day, organisation);
