-- A Microsoft Graph mailbox: where the delta query of its inbox folder stands (the
-- @odata.deltaLink of the last complete round), so a restart resumes there.
CREATE TABLE graph_delta (
    mailbox    TEXT PRIMARY KEY,
    delta_link TEXT NOT NULL,
    saved_at   BIGINT NOT NULL
);
