-- PostgreSQL fills a case's search vector after the intake's batch commits (see
-- ../postgres/0026_search_later.sql); SQLite's FTS5 triggers cost little and stay as they are.
SELECT 1;
