-- The steps of Awb chapter 9 (issue 22). Keep in step with the other backend's 0011_awb.sql.

-- The last day the complainant may turn to the external body (9:24: one year after the final
-- letter, or as configured): retention keeps the case's personal data until it has passed.
ALTER TABLE cases ADD COLUMN external_term_ends TEXT;
-- 9:11: the date of the final response before the first postponement (respond_by then holds
-- the postponed date, which reminders and escalations follow), and how often it was postponed.
ALTER TABLE cases ADD COLUMN original_respond_by TEXT;
ALTER TABLE cases ADD COLUMN postponements BIGINT NOT NULL DEFAULT 0;
-- 9:8: the ground on which the complaint was not handled (outcome 'not-handled').
ALTER TABLE cases ADD COLUMN not_handled_ground TEXT;
-- 9:10: the hearing. The invitation's iCalendar UID (carries the reference; an answer names
-- it), when it starts (Unix seconds), the last day to answer (the term the handler set, a date),
-- the answer (ACCEPTED, DECLINED, TENTATIVE), and how it ended: 'held' with its report, or why
-- there was none ('clearly-unfounded', 'not-wished', 'no-answer').
ALTER TABLE cases ADD COLUMN hearing_uid TEXT;
ALTER TABLE cases ADD COLUMN hearing_at BIGINT;
ALTER TABLE cases ADD COLUMN hearing_answer_by TEXT;
ALTER TABLE cases ADD COLUMN hearing_answer TEXT;
ALTER TABLE cases ADD COLUMN hearing_outcome TEXT;
ALTER TABLE cases ADD COLUMN hearing_report TEXT;
