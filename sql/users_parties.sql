-- Parties (同行, issue 16): visitors whose visits start at the same entrance
-- camera less than party_seconds apart are a party; co-buyer suggestions use it.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY terse
SET TimeZone = 'Asia/Shanghai';

SELECT create_project('Parties', 'Asia/Shanghai', 4) AS p \gset
SELECT create_project('Parties other', 'Asia/Shanghai', 4) AS q \gset
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:p, 'side', 'entrance'), (:p, 'sand', 'sand_table'),
                          (:q, 'gate', 'entrance');
SELECT configure(:p, 'party_seconds', '-1');
SELECT configure(:p, 'party_seconds', 'ten');
-- a couple through the gate 4 seconds apart (one statement); a third visitor 6
-- seconds after the second (a chain: the same party); a stranger 30 seconds
-- later; one at the same time through the side door (another camera); one
-- first seen at the sand table
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'gate', '2024-06-01 10:00:00', '[1,0,0,0]', 0.9, false),
	(:p, 'gate', '2024-06-01 10:00:04', '[0,1,0,0]', 0.9, false);
-- (single-row inserts, as cameras send them)
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'gate', '2024-06-01 10:00:10', '[0,0,1,0]', 0.9, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'gate', '2024-06-01 10:00:40', '[0,0,0,1]', 0.9, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'side', '2024-06-01 10:00:02', '[1,1,0,0]', 0.9, false),
	(:p, 'sand', '2024-06-01 10:00:03', '[0,0,1,1]', 0.9, false);
-- a visitor of another project at the same moment is no one's party here
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:q, 'gate', '2024-06-01 10:00:01', '[1,0,0,0]', 0.9, false);
CREATE TEMP VIEW parties AS
	SELECT v.project_id, v.first_camera_id, to_char(v.started_at, 'HH24:MI:SS') AS started,
	       to_char(f.started_at, 'HH24:MI:SS') AS party_of
	FROM firstsight.visit v LEFT JOIN firstsight.visit f ON f.project_id = v.project_id AND f.visit_id = v.party_id
	WHERE v.project_id IN (:p, :q);
SELECT first_camera_id, started, party_of FROM parties WHERE project_id = :p ORDER BY started, first_camera_id;
SELECT count(*) AS parties_elsewhere FROM parties WHERE project_id = :q AND party_of IS NOT NULL;

-- a late capture (an uploading camera) joins the party it belongs to
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'gate', '2024-06-01 10:00:44', '[0.7,0,0,-0.7]', 0.9, false);
SELECT started, party_of FROM parties WHERE project_id = :p AND started >= '10:00:40' ORDER BY started;

-- a shorter window, recomputed over the day: the chain breaks at 6 seconds
SELECT configure(:p, 'party_seconds', '5');
SELECT assign_parties(:p, '2024-06-01'::date) AS changed;
SELECT first_camera_id, started, party_of FROM parties WHERE project_id = :p ORDER BY started, first_camera_id;
-- 0: no parties
SELECT configure(:p, 'party_seconds', '0');
SELECT assign_parties(:p, '2024-06-01'::date) AS changed;
SELECT count(*) AS in_parties FROM visit WHERE project_id = :p AND party_id IS NOT NULL;
SELECT reset_setting(:p, 'party_seconds');
SELECT assign_parties(:p, '2024-06-01'::date) AS changed;
SELECT assign_parties(:p, '2024-06-01'::date) AS changed_again;

-- co-buyer suggestions: the first visitor buys alone; the party's others are suggested
SELECT person_id AS buyer FROM capture WHERE project_id = :p AND captured_at = '2024-06-01 10:00:00' \gset
SELECT person_id AS partner FROM capture WHERE project_id = :p AND captured_at = '2024-06-01 10:00:04' \gset
SELECT person_id AS third FROM capture WHERE project_id = :p AND captured_at = '2024-06-01 10:00:10' \gset
INSERT INTO deal (project_id, person_id, signed_at, price) VALUES (:p, :buyer, '2024-06-20 15:00', 2000000)
RETURNING deal_id AS d \gset
SELECT person_id = :partner AS partner, person_id = :third AS third, parties, to_char(first_together, 'HH24:MI:SS') AS at
FROM suggest_cobuyers(:p, :d);
-- the partner made a co-buyer is not suggested again
UPDATE deal SET co_buyer_ids = ARRAY[:partner]::bigint[] WHERE project_id = :p AND deal_id = :d;
SELECT person_id = :third AS third FROM suggest_cobuyers(:p, :d);
\set VERBOSITY sqlstate
SELECT * FROM suggest_cobuyers(:p, -1);
\set VERBOSITY terse
-- a merge makes the two latecomers one person: their party of two is one
-- visit now, no party (tidy_person recomputes the day's parties)
SELECT person_id AS late1 FROM capture WHERE project_id = :p AND captured_at = '2024-06-01 10:00:40' \gset
SELECT person_id AS late2 FROM capture WHERE project_id = :p AND captured_at = '2024-06-01 10:00:44' \gset
SELECT merge_person(:p, :late1, :late2) = :late1 AS kept_first;
SELECT first_camera_id, started, party_of FROM parties WHERE project_id = :p AND started >= '10:00:40' ORDER BY started;
-- a manager of the other project gets nothing of this one
SELECT setup_roles();
CREATE ROLE regress_fs_party_mgr;
SELECT grant_project('regress_fs_party_mgr', :q);
SET ROLE regress_fs_party_mgr;
\set VERBOSITY sqlstate
SELECT * FROM suggest_cobuyers(:p, :d);
\set VERBOSITY terse
RESET ROLE;
DROP OWNED BY regress_fs_party_mgr;
DROP ROLE regress_fs_party_mgr;

-- an uploading camera's backlog in one statement: the batch opens several
-- visits of one run at once, each run is walked once, and the parties are
-- what recomputing the whole day gives (a chain of four at the side door and
-- one a minute later; a couple at the gate between them)
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'side', '2024-06-02 09:00:00', '[-1,0,0,0]', 0.9, false),
	(:p, 'side', '2024-06-02 09:00:06', '[0,-1,0,0]', 0.9, false),
	(:p, 'side', '2024-06-02 09:00:12', '[0,0,-1,0]', 0.9, false),
	(:p, 'side', '2024-06-02 09:00:18', '[0,0,0,-1]', 0.9, false),
	(:p, 'side', '2024-06-02 09:01:00', '[-1,-1,0,0]', 0.9, false),
	(:p, 'gate', '2024-06-02 09:00:03', '[0,0,-1,-1]', 0.9, false),
	(:p, 'gate', '2024-06-02 09:00:09', '[-1,0,-1,0]', 0.9, false);
SELECT v.first_camera_id, to_char(v.started_at, 'HH24:MI:SS') AS started, to_char(f.started_at, 'HH24:MI:SS') AS party_of
FROM visit v LEFT JOIN visit f ON f.project_id = v.project_id AND f.visit_id = v.party_id
WHERE v.project_id = :p AND v.started_at >= '2024-06-02' ORDER BY v.started_at, v.first_camera_id;
SELECT assign_parties(:p, '2024-06-02'::date) AS changed_by_the_day;
