-- Which instance takes mail in: with several instances on one database, one works the mailbox
-- at a time, so no mail is fetched and moved twice. A lease, renewed while the holder works.
CREATE TABLE mailbox_leases (
    folder     TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    held_until BIGINT NOT NULL
);
