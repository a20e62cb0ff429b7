-- The cases list in deadline order (issue 24: 1,000,000 cases, ten years of 100,000). Keep in
-- step with ../sqlite/0025_list_order.sql.
--
-- The list's first page read every open case of the handler (some 1,500 on such a register, a
-- thirtieth of a year), checked each against who may read it and sorted them all by the next
-- deadline, to show 50. These indexes hold the open cases in that order, so a page reads its 50
-- (and the one after, for "next") and stops. The expression is store/search.rs's
-- `next_deadline`, as it is written there: the database uses the index only for the same
-- expression. Partial: a closed case leaves them, so they grow with the open work, not with the
-- register. Mine (a handler's own) and all (every open case one may read, a supervisor's).
CREATE INDEX cases_open_handler_deadline ON cases (status, handler_id, (CASE WHEN status <> 'open' THEN '9999-12-31' ELSE LEAST(
            CASE WHEN acknowledged_at IS NULL THEN acknowledge_by ELSE '9999-12-31' END,
            CASE WHEN progress_sent_at IS NULL THEN progress_by ELSE '9999-12-31' END,
            CASE WHEN responded_at IS NULL THEN respond_by ELSE '9999-12-31' END) END), id) WHERE status = 'open';
CREATE INDEX cases_open_deadline ON cases (status, (CASE WHEN status <> 'open' THEN '9999-12-31' ELSE LEAST(
            CASE WHEN acknowledged_at IS NULL THEN acknowledge_by ELSE '9999-12-31' END,
            CASE WHEN progress_sent_at IS NULL THEN progress_by ELSE '9999-12-31' END,
            CASE WHEN responded_at IS NULL THEN respond_by ELSE '9999-12-31' END) END), id) WHERE status = 'open';
