-- Handler actions, the register and retention (R2, R6-R11). Keep in step with ../sqlite/.

-- service | staff | process | other
ALTER TABLE cases ADD COLUMN category TEXT;
-- founded | partly-founded | unfounded, with the findings and measures of the final response.
ALTER TABLE cases ADD COLUMN outcome TEXT;
ALTER TABLE cases ADD COLUMN findings TEXT;
ALTER TABLE cases ADD COLUMN measures TEXT;
-- The handling date promised in the progress notice.
ALTER TABLE cases ADD COLUMN expected_by TEXT;
ALTER TABLE cases ADD COLUMN closed_at BIGINT;
-- The complainant took the complaint to the external body (R11).
ALTER TABLE cases ADD COLUMN external_body TEXT;
ALTER TABLE cases ADD COLUMN external_on TEXT;
-- When personal data was removed after the retention period (R9).
ALTER TABLE cases ADD COLUMN anonymised_at BIGINT;
