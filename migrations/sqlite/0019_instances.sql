-- Instances on one database (issue 25). Keep in step with the other backend's 0019_instances.sql.

-- Each running daemon registers and beats here every third of its lease time; one whose
-- seen_until has passed is dead: its mailbox leases are free at once, and a peer settles its
-- outbox claims (see store/instances.rs).
CREATE TABLE instances (
    id         TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_until BIGINT NOT NULL
);

-- A mail being handed to the SMTP server: written before the transaction starts, on the
-- sender slot ("INSTANCE#K", one SMTP connection at a time) and with a sequence number that
-- grows, so that of a dead instance's handed mails only the last of each slot is unknown (the
-- slot moved on only after the earlier ones were accepted).
ALTER TABLE outbox ADD COLUMN handed_on TEXT;
ALTER TABLE outbox ADD COLUMN handed_seq BIGINT;
