-- What a mail is (issue 11). Keep in step with the other backend's 0005.

-- A forwarded complaint: who wrote the original and when, as the forward shows them. The
-- complainant of record stays the one who wrote to us (they get the letters).
ALTER TABLE cases ADD COLUMN forwarded_sender TEXT;
ALTER TABLE cases ADD COLUMN forwarded_date TEXT;

-- document | signature | report. Signatures (smime.p7s, signature.asc) prove who sent a
-- mail and the machine parts of a delivery report explain it; neither is a document of the
-- complaint (R3), so only 'document' is counted.
ALTER TABLE attachments ADD COLUMN role TEXT NOT NULL DEFAULT 'document';
