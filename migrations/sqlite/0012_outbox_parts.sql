-- Parts of an outgoing mail besides its text (issue 22): the documents of a complaint sent to
-- the person it is about (Awb 9:9), an iCalendar invitation to a hearing (9:10). A JSON array
-- (see store::MailPart); NULL for the plain text mail that is everything else. Keep in step
-- with the other backend's 0012_outbox_parts.sql.
ALTER TABLE outbox ADD COLUMN parts TEXT;
