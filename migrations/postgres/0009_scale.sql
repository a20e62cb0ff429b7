-- Work that grows with what is due, not with what is stored (issue 14: a register of years).
-- Keep in step with ../sqlite/0009_scale.sql.

-- A handler's cases in order (`cases list --handler`), and their open ones (with --open,
-- --due-within, and the open counts of `handlers list`).
CREATE INDEX cases_handler ON cases (handler_id, id);
CREATE INDEX cases_status_handler ON cases (status, handler_id);
-- Deadlines not met yet, by date: the reminder sweep, `cases list --due-within` and `status`
-- read the cases that are due, not every open case. Partial: a met deadline leaves the index.
CREATE INDEX cases_acknowledge_due ON cases (status, acknowledge_by) WHERE acknowledged_at IS NULL;
CREATE INDEX cases_progress_due ON cases (status, progress_by) WHERE progress_sent_at IS NULL;
CREATE INDEX cases_respond_due ON cases (status, respond_by) WHERE responded_at IS NULL;
-- Retention: the closed cases that still hold personal data, by closing time.
CREATE INDEX cases_retention ON cases (status, closed_at) WHERE anonymised_at IS NULL;
-- The requests for information the register counts per case, and the "assigned" records the
-- web workspace's access check reads. Serves every lookup by case as well.
CREATE INDEX case_events_case_action ON case_events (case_id, action);
DROP INDEX case_events_case;
-- The reminders a digest carried, read when the digest is sent (each sent mail looked for them
-- through the whole table).
CREATE INDEX reminders_outbox ON reminders (outbox_id);
