-- Nothing set aside is out of sight (issue 21). Keep in step with ../sqlite/0010_set_aside.sql.

-- The mail outside any case (set aside or quarantined) newest first, for the supervisors' page
-- of it; retention reads the same rows by date.
CREATE INDEX messages_held ON messages (received_at, id) WHERE case_id IS NULL;

-- The daily count of set-aside and quarantined mail in a supervisor's digest: one row per
-- supervisor and day, claimed in the transaction that queues the digest, so the count goes out
-- at most once a day. `last_message_id` is the newest message the count took in; the next
-- count starts after it, so no mail falls between two counts (a weekend, a stopped daemon).
CREATE TABLE digest_counts (
    recipient       TEXT NOT NULL,
    day             TEXT NOT NULL,
    last_message_id BIGINT NOT NULL,
    set_aside       BIGINT NOT NULL,
    quarantined     BIGINT NOT NULL,
    outbox_id       BIGINT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (recipient, day)
);
