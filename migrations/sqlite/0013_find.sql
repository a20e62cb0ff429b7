-- Find and read (issue 24). Keep in step with ../postgres/0013_find.sql.

-- Search by name, e-mail address, reference or words of the text, with SQLite's own full-text
-- search (FTS5). External content: the index holds no second copy of the texts, only their
-- words, and triggers keep it in step with every write (intake, follow-ups, paper complaints,
-- corrections, retention: once retention blanks a case's texts, only the reference and what
-- the register keeps, the measures, are found). Diacritics are folded (één = een).
CREATE VIRTUAL TABLE cases_fts USING fts5(
    reference, complainant_name, complainant_email, reply_to_name, reply_to_email, subject, description, measures,
    content = 'cases', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER cases_fts_insert AFTER INSERT ON cases BEGIN
    INSERT INTO cases_fts (rowid, reference, complainant_name, complainant_email, reply_to_name, reply_to_email, subject, description, measures)
    VALUES (new.id, new.reference, new.complainant_name, new.complainant_email, new.reply_to_name, new.reply_to_email, new.subject, new.description, new.measures);
END;
CREATE TRIGGER cases_fts_delete AFTER DELETE ON cases BEGIN
    INSERT INTO cases_fts (cases_fts, rowid, reference, complainant_name, complainant_email, reply_to_name, reply_to_email, subject, description, measures)
    VALUES ('delete', old.id, old.reference, old.complainant_name, old.complainant_email, old.reply_to_name, old.reply_to_email, old.subject, old.description, old.measures);
END;
CREATE TRIGGER cases_fts_update AFTER UPDATE OF reference, complainant_name, complainant_email, reply_to_name, reply_to_email, subject, description, measures ON cases BEGIN
    INSERT INTO cases_fts (cases_fts, rowid, reference, complainant_name, complainant_email, reply_to_name, reply_to_email, subject, description, measures)
    VALUES ('delete', old.id, old.reference, old.complainant_name, old.complainant_email, old.reply_to_name, old.reply_to_email, old.subject, old.description, old.measures);
    INSERT INTO cases_fts (rowid, reference, complainant_name, complainant_email, reply_to_name, reply_to_email, subject, description, measures)
    VALUES (new.id, new.reference, new.complainant_name, new.complainant_email, new.reply_to_name, new.reply_to_email, new.subject, new.description, new.measures);
END;
INSERT INTO cases_fts (cases_fts) VALUES ('rebuild');

-- The mail of a case (follow-ups, answers to a request for information): its sender, subject
-- and text.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    from_address, subject, body,
    content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, from_address, subject, body) VALUES (new.id, new.from_address, new.subject, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, from_address, subject, body) VALUES ('delete', old.id, old.from_address, old.subject, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF from_address, subject, body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, from_address, subject, body) VALUES ('delete', old.id, old.from_address, old.subject, old.body);
    INSERT INTO messages_fts (rowid, from_address, subject, body) VALUES (new.id, new.from_address, new.subject, new.body);
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

-- "My day": when each handler last marked it as seen (mail and assignments after that are new).
CREATE TABLE web_last_look (
    email     TEXT PRIMARY KEY,
    looked_at BIGINT NOT NULL
);
-- Mail by the time it came in: the new mail on a handler's cases since their last look is read
-- from the recent mail, not from all their cases.
CREATE INDEX messages_received ON messages (received_at);
