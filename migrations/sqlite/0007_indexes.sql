-- Work that grows with what is due, not with the register: the acknowledgement state of each
-- case in `cases list` (a correlated lookup per case), open cases by status (sweeps, status),
-- and the reference counts of files at retention.
CREATE INDEX outbox_case_kind ON outbox (case_id, kind);
CREATE INDEX cases_status ON cases (status);
CREATE INDEX attachments_sha256 ON attachments (sha256);
CREATE INDEX messages_raw_file ON messages (raw_file);
