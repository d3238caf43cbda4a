-- Central ingestion on Citus (docs/scale-out.md): the ids ingest_capture()
-- draws for a project on a Citus cluster, one row per project and kind of id
-- (capture, person, visit), kept next to the project's shards.  Each node has
-- its own sequences, and a project's shards may move to another node, so a
-- counter that moves with the project is what keeps its ids unique.  Unused
-- on plain PostgreSQL (the sequences serve there).
CREATE TABLE project_counter (
	project_id bigint NOT NULL,
	counter text NOT NULL CHECK (counter IN ('capture', 'person', 'visit')),
	value bigint NOT NULL,
	PRIMARY KEY (project_id, counter)
);
SELECT pg_catalog.pg_extension_config_dump('project_counter', '');
