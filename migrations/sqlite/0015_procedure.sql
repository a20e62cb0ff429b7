-- The procedure as configuration (issue 25). Keep in step with the other backend's 0015_procedure.sql.

-- The terms a case was registered under (domain::terms::Procedure, as it writes them), so the
-- letters, a postponement and the term to answer a hearing invitation follow the procedure the
-- complainant was told of, whatever the configuration says later. Cases from before had the
-- seed's regulation (preset reintegratie). A procedure without a progress notice stores
-- progress_by as '9999-12-31', a day no sweep reaches (the column is NOT NULL).
ALTER TABLE cases ADD COLUMN procedure_terms TEXT NOT NULL DEFAULT 'acknowledge=5 working days; progress=10 working days; respond=4 weeks; hearing-answer=5 working days; postponement=4 weeks';
