-- The workspace under load (issue 24). Keep in step with the other backend's 0016_web_reads.sql.

-- Every page checks who may read a case (`store::web::MAY_READ`) and finds the session's
-- handler by address, case by case for a list: without an index that is a scan of all handlers
-- for every case on the page.
CREATE INDEX handlers_email ON handlers (email);
