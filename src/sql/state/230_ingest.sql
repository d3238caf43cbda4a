-- What ingestion records about each match (issue 18): the kind of pair it
-- rests on, how far inside that pair's threshold it was, and whether it needs
-- a look in the daily review.  No CHECK constraints on capture (a violated
-- one prints the row, face included); ingestion writes these columns and
-- overwrites whatever an INSERT gave them.
ALTER TABLE capture ADD COLUMN match_kind text;
ALTER TABLE capture ADD COLUMN match_margin float8;
ALTER TABLE capture ADD COLUMN match_low_confidence boolean;
ALTER TABLE capture ADD COLUMN match_reviewed_at timestamptz;

-- "does this gallery have masked (unmasked) faces at all": a filtered HNSW
-- search for a kind the gallery lacks would walk the whole graph.  The index
-- (project_id, masked) is each gallery partition's own, made by
-- create_project (an index on the extension-owned parent would be copied
-- onto a partition when pg_restore attaches it, and the dump's own index of
-- the partition would then fail: see src/sql/state/200_domain_tables.sql).
