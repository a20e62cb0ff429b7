-- Search (issue 23): nothing changes here. PostgreSQL's 0022_search_once.sql stops stemming a
-- complaint's text twice (in its case's and its first mail's column); SQLite's FTS5 index of the
-- mail is kept by external-content triggers whose deletes must give the words their inserts
-- gave, so its rows stay as 0013 made them. Keep in step with the other backend's
-- 0022_search_once.sql.
SELECT 1;
