-- The sales-office model: projects, cameras, people and visits.
-- Every table leads its primary key with project_id (the Citus distribution
-- column and the gallery partition key).  Biometric data (embeddings and
-- photos) lives only in capture and face; expires_at on those rows is kept by
-- the privacy layer.  Captures carry no CHECK or NOT NULL constraints on their
-- camera-supplied columns on purpose: a violated constraint prints the failing
-- row, face included, in its error detail; the ingestion trigger validates
-- instead, with messages that show no biometric data.

COMMENT ON TABLE project IS 'a sales office (案场): time zone and face model dimension; settings in project_setting';
COMMENT ON COLUMN capture.match_distance IS 'cosine distance to the matched gallery exemplar (or batch mate); null for the first capture of a new person';
COMMENT ON TABLE face IS 'gallery exemplars: best unmasked, best masked and most recent capture of each person';
COMMENT ON COLUMN visit.seen_before IS 'the person had an earlier visit; previous_visit_id / previous_visit_at say which and when it ended';
REVOKE ALL ON hash_key FROM PUBLIC;
