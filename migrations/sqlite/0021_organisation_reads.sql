-- Strict separation of organisations (issue 25): the register of one organisation reads its
-- cases of a period through this index, not every case of the organisation (cases_organisation)
-- nor every case of the period (cases_received). Keep in step with the other backend's
-- 0021_organisation_reads.sql.
CREATE INDEX cases_organisation_received ON cases (organisation, received_on);
