-- State changes from 0.1.0 to 0.2.0, written by hand: ALTERs of tables,
-- types and sequences, new tables, data fixes, and DROPs of code that 0.2.0
-- no longer has or whose signature changed (CREATE OR REPLACE cannot change a
-- function's result type or argument names).  Every code piece of
-- src/sql/code follows this part in the built upgrade script.

-- the visit rollup triggers share one function instead of three generated copies
CREATE TYPE rollup_visit_delta AS (project_id bigint, person_id bigint, started_at timestamptz,
                                   seen_before boolean, agent_id bigint, consultant_id bigint, s integer);
