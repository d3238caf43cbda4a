-- Projects, cameras, channels and validated settings.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY default
-- a fixed project id range, so messages naming one do not depend on other tests
SELECT setval('firstsight.project_id_seq', 50000) IS NOT NULL AS ok;

SELECT create_project('Riverside show flat') AS p512 \gset
SELECT create_project('Hillside', 'Asia/Hong_Kong', 128) AS p128 \gset
SELECT name, time_zone, dims FROM project WHERE project_id IN (:p512, :p128) ORDER BY project_id;

-- each project gets its natural channel and its own gallery partition
SELECT c.project_id = :p512 AS first, c.kind, c.name, c.commission_rate, c.protection_days
FROM channel c WHERE c.project_id IN (:p512, :p128) ORDER BY c.project_id;
SELECT gallery_table(:p512) = ('firstsight.face_p' || :p512)::regclass AS gallery_named_by_project,
       (SELECT count(*) FROM pg_inherits WHERE inhparent = 'firstsight.face'::regclass
        AND inhrelid IN (gallery_table(:p512), gallery_table(:p128))) AS partitions;
-- the HNSW index exists exactly when embedding_hnsw is installed
SELECT create_gallery_index(:p512) = EXISTS (SELECT 1 FROM pg_am WHERE amname = 'embedding_hnsw') AS index_follows_am;

-- defaults depend on the face model: 512 dims (ArcFace-like) and 128 dims
SELECT setting, value, is_default FROM project_settings WHERE project_id = :p512 ORDER BY setting;
SELECT setting, value FROM project_settings WHERE project_id = :p128 AND setting LIKE '%match_distance' ORDER BY setting;

-- configure: validated and normalised
SELECT configure(:p512, 'match_distance', '0.5');
SELECT configure(:p512, 'visit_gap', '90 minutes');
SELECT configure(:p512, 'attribution_mode', 'first_visit');
SELECT configure(:p512, 'natural_ownership_days', '120');
SELECT configure(:p512, 'consent_mode', 'consent');
SELECT configure(:p512, 'match_distance', '0.45');
SELECT setting, value, is_default FROM project_settings
WHERE project_id = :p512 AND NOT is_default ORDER BY setting;
SELECT reset_setting(:p512, 'consent_mode');
SELECT value, is_default FROM project_settings WHERE project_id = :p512 AND setting = 'consent_mode';

-- refused: unknown setting, bad values, unknown project
SELECT configure(:p512, 'match_threshold', '0.5');
SELECT configure(:p512, 'match_distance', 'close');
SELECT configure(:p512, 'match_distance', '2.5');
SELECT configure(:p512, 'match_distance', '0');
SELECT configure(:p512, 'visit_gap', 'two hours');
SELECT configure(:p512, 'visit_gap', '-1 hour');
SELECT configure(:p512, 'attribution_mode', 'last_visit');
SELECT configure(:p512, 'natural_ownership_days', '-3');
SELECT configure(:p512, 'consent_mode', NULL);
SELECT configure(-1, 'visit_gap', '1 hour');
SELECT value FROM project_settings WHERE project_id = :p512 AND setting = 'match_distance';

-- create_project refuses bad arguments
SELECT create_project('');
SELECT create_project('Nowhere', 'Mars/Olympus');
SELECT create_project('Tiny', dims => 0);

-- cameras, consultants, channels, agents
INSERT INTO camera (project_id, camera_id, zone) VALUES (:p512, 'gate', 'entrance'), (:p512, 'desk', 'sign_in');
INSERT INTO camera (project_id, camera_id, zone) VALUES (:p512, 'roof', 'rooftop');
INSERT INTO consultant (project_id, name) VALUES (:p512, 'Wang Fang');
INSERT INTO channel (project_id, kind, name, commission_rate, protection_days)
	VALUES (:p512, 'agency', 'Lianjia', 0.03, 60) RETURNING kind, name, commission_rate, protection_days;
INSERT INTO channel (project_id, kind, name) VALUES (:p512, 'natural', 'second natural');
INSERT INTO agent (project_id, channel_id, name)
	SELECT :p512, channel_id, 'Agent Li' FROM channel WHERE project_id = :p512 AND kind = 'agency';
SELECT a.name, c.name AS channel FROM agent a JOIN channel c USING (project_id, channel_id) WHERE a.project_id = :p512;
