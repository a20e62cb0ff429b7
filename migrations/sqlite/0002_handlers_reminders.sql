-- Handlers, assignment, impartiality and reminders. Keep in step with ../postgres/.

CREATE TABLE handlers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL UNIQUE,
    email            TEXT NOT NULL,
    supervisor       BIGINT NOT NULL DEFAULT 0,
    active           BIGINT NOT NULL DEFAULT 1,
    last_assigned_at BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL
);

ALTER TABLE cases ADD COLUMN handler_id BIGINT REFERENCES handlers (id);
-- The complaint's text names a handler: a supervisor should check the assignment (R5).
ALTER TABLE cases ADD COLUMN supervisor_check TEXT NOT NULL DEFAULT '';
-- When the progress notice (R6) and the final response (R8) went out; NULL while open.
ALTER TABLE cases ADD COLUMN progress_sent_at BIGINT;
ALTER TABLE cases ADD COLUMN responded_at BIGINT;

-- Staff members a case is about; none of them may handle it (R5).
CREATE TABLE case_subjects (
    case_id BIGINT NOT NULL REFERENCES cases (id),
    name    TEXT NOT NULL,
    PRIMARY KEY (case_id, name)
);

-- Every reminder and escalation, once: the unique key is what makes a sweep idempotent across
-- restarts and instances.
CREATE TABLE reminders (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id    BIGINT NOT NULL REFERENCES cases (id),
    deadline   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    due_key    TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    outbox_id  BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (case_id, deadline, kind, due_key, recipient)
);
