-- Edge offices and headquarters (docs/scale-out.md).  An office publishes its
-- non-biometric facts with PostgreSQL's logical replication: the publication
-- firstsight_facts, made and kept in step by create_facts_publication(), with
-- column lists that leave out every biometric column (capture.face,
-- capture.photo; the gallery is never published).  Headquarters is a database
-- with this extension that subscribes to each office: its apply workers run
-- with session_replication_role = replica, so no ingestion, attribution,
-- notification, history or rollup trigger fires for replicated rows.
-- Headquarters recomputes the rollups from the facts (rebuild_rollups) and
-- decides the cross-office flags itself (group_flagged_deals), from ID-card
-- hashes under the group key.

-- the ID-card (or other) hash under the group key, comparable across the
-- offices of a group; NULL while no group key is installed
CREATE OR REPLACE FUNCTION group_identity_hash(kind text, value text) RETURNS bytea
	LANGUAGE sql STABLE STRICT
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT hmac_sha256(k.secret, convert_to('group:' || kind || ':' || value, 'UTF8')) FROM group_key k WHERE k.key_id = 1 $$;
REVOKE ALL ON FUNCTION group_identity_hash(text, text) FROM PUBLIC;
REVOKE ALL ON group_key FROM PUBLIC;

-- install the group key from a file on the database server (64 or more hex
-- digits, e.g. made once by `openssl rand -hex 32`), so the key appears in no
-- SQL text, log or dump; returns a fingerprint to compare between offices.
-- The owner only (reading a server file needs superuser or pg_read_server_files).
CREATE OR REPLACE FUNCTION install_group_key(key_file text) RETURNS text
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	hex text;
	k bytea;
	old bytea;
BEGIN
	BEGIN
		hex := btrim(pg_read_file(key_file), E' \t\r\n');
	EXCEPTION WHEN undefined_file THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_file',
			MESSAGE = format('group key file "%s" does not exist', key_file),
			HINT = 'Give the absolute path of the key file on the database server.';
	END;
	IF hex !~ '^([0-9a-fA-F]{2}){32,}$' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'group key file does not hold a key',
			DETAIL = 'The file must hold at least 64 hexadecimal digits and nothing else.',
			HINT = 'Make the key once with "openssl rand -hex 32" and give the same file to every office of the group.';
	END IF;
	k := decode(hex, 'hex');
	SELECT g.secret INTO old FROM group_key g WHERE g.key_id = 1;
	IF old IS NOT NULL AND old <> k THEN
		RAISE EXCEPTION USING ERRCODE = 'duplicate_object',
			MESSAGE = 'a different group key is installed',
			DETAIL = 'Identity hashes already bound under the installed key would no longer match those of the other offices.',
			HINT = 'Check the fingerprint with firstsight.group_key_fingerprint(); a group changes its key at every office together.';
	END IF;
	IF old IS NULL THEN
		INSERT INTO group_key (key_id, secret) VALUES (1, k);
	END IF;
	RETURN group_key_fingerprint();
END
$$;
REVOKE ALL ON FUNCTION install_group_key(text) FROM PUBLIC;
COMMENT ON FUNCTION install_group_key(text) IS
	'install the group key for cross-office ID-card hashes from a key file on the server (owner only); returns its fingerprint';

-- 8 bytes of a keyed hash of a constant: equal at two offices when their keys are equal; reveals nothing of the key
CREATE OR REPLACE FUNCTION group_key_fingerprint() RETURNS text
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT encode(substr(hmac_sha256(k.secret, convert_to('firstsight group key fingerprint', 'UTF8')), 1, 8), 'hex')
	      FROM group_key k WHERE k.key_id = 1 $$;
REVOKE ALL ON FUNCTION group_key_fingerprint() FROM PUBLIC;

-- The facts an office publishes: every table headquarters receives, with the
-- columns it must never receive.  A new fact table is added here (and reaches
-- existing publications at the next ALTER EXTENSION UPDATE, see the end of
-- this file); a new column of a listed table is published unless listed here.
-- Not published: face (the gallery, biometric), hash_key and group_key (keys),
-- webhook (secrets), outbox and outbox_delivery (this office's deliveries),
-- the rollup_* tables (headquarters recomputes them), project_access (roles
-- are this server's), retention_log (one row per sweep of this server, no
-- project_id: its erasures reach headquarters as capture.erased_at), and the
-- extension's own rows (setting_definition, retention_default).
CREATE OR REPLACE FUNCTION facts_publication_tables()
	RETURNS TABLE (table_name regclass, excluded text[])
	LANGUAGE sql IMMUTABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT t::regclass, x FROM (VALUES
		('firstsight.project', '{}'::text[]),
		('firstsight.project_setting', '{}'),
		('firstsight.retention_policy', '{}'),
		('firstsight.camera', '{}'),
		('firstsight.consultant', '{}'),
		('firstsight.channel', '{}'),
		('firstsight.agent', '{}'),
		('firstsight.person', '{}'),
		-- biometric: the embedding and the photo
		('firstsight.capture', '{face,photo}'),
		('firstsight.visit', '{}'),
		-- hashes under this office's own key mean nothing elsewhere; the group hash does
		('firstsight.identity', '{id_card_hash,phone_hash,phone_masked_hash}'),
		-- phone_masked_hash is NOT NULL (a keyed hash headquarters cannot reverse)
		('firstsight.report', '{phone_hash}'),
		('firstsight.deal', '{}'),
		('firstsight.attribution', '{}'),
		('firstsight.consent', '{}'),
		('firstsight.erasure_log', '{}'),
		('firstsight.biometric_access_log', '{}'),
		-- attribution's history (keyed hashes already left out of its rows), a
		-- manager's splits, and sightings at sister projects found by decisions
		('firstsight.change_log', '{}'),
		('firstsight.person_distinct', '{}'),
		('firstsight.sighting_elsewhere', '{}')) v(t, x)
	$$;
COMMENT ON FUNCTION facts_publication_tables() IS 'the tables of the facts publication and the columns each leaves out';

-- create the publication firstsight_facts of this office's facts, or bring an
-- existing one in step with facts_publication_tables(); the published tables
-- and columns.  Inserts, updates and deletes are published, TRUNCATE is not
-- (a truncated table at an office leaves headquarters' history alone).
CREATE OR REPLACE FUNCTION create_facts_publication()
	RETURNS TABLE (table_name regclass, columns text[])
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	spec text;
	bad text;
BEGIN
	-- a column of type embedding or a photo is never published, whatever the list says
	SELECT string_agg(format('%s.%s', a.attrelid::regclass, a.attname), ', ') INTO bad
	FROM facts_publication_tables() f
	JOIN pg_attribute a ON a.attrelid = f.table_name AND a.attnum > 0 AND NOT a.attisdropped
	WHERE a.attname <> ALL (f.excluded)
	  AND (a.atttypid = 'firstsight.embedding'::regtype OR a.attname IN ('face', 'photo', 'secret'));
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = 'the facts publication would carry biometric data or secrets',
			DETAIL = format('Columns: %s.', bad),
			HINT = 'Leave them out in firstsight.facts_publication_tables().';
	END IF;
	SELECT string_agg(format('%s (%s)', f.table_name,
	                         (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
	                          FROM pg_attribute a
	                          WHERE a.attrelid = f.table_name AND a.attnum > 0 AND NOT a.attisdropped
	                            AND a.attname <> ALL (f.excluded))), ', ')
	INTO spec FROM facts_publication_tables() f;
	IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'firstsight_facts') THEN
		EXECUTE 'ALTER PUBLICATION firstsight_facts SET TABLE ' || spec;
		ALTER PUBLICATION firstsight_facts SET (publish = 'insert, update, delete');
	ELSE
		EXECUTE 'CREATE PUBLICATION firstsight_facts FOR TABLE ' || spec
		        || ' WITH (publish = ''insert, update, delete'')';
	END IF;
	RETURN QUERY
		SELECT (quote_ident(t.schemaname) || '.' || quote_ident(t.tablename))::regclass, t.attnames::text[]
		FROM pg_publication_tables t WHERE t.pubname = 'firstsight_facts' ORDER BY 1;
END
$$;
REVOKE ALL ON FUNCTION create_facts_publication() FROM PUBLIC;
COMMENT ON FUNCTION create_facts_publication() IS
	'create the publication firstsight_facts of the non-biometric facts (or bring it in step after an upgrade); the published tables and columns';

-- at an office: the logical replication slots of this database (one per
-- headquarters subscription) and how far behind each is
CREATE OR REPLACE VIEW facts_replication AS
	SELECT s.slot_name, s.active, r.application_name, r.state,
	       pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint AS unconfirmed_bytes,
	       pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)::bigint AS retained_bytes,
	       s.wal_status, r.write_lag, r.flush_lag, r.replay_lag, r.reply_time
	FROM pg_catalog.pg_replication_slots s
	LEFT JOIN pg_catalog.pg_stat_replication r ON r.pid = s.active_pid
	WHERE s.slot_type = 'logical' AND s.plugin = 'pgoutput' AND s.database = pg_catalog.current_database();
COMMENT ON VIEW facts_replication IS 'at an office: each logical replication slot of this database (headquarters'' subscriptions), the WAL it holds back and its lag';
COMMENT ON COLUMN facts_replication.unconfirmed_bytes IS 'WAL written here that the subscriber has not confirmed';
COMMENT ON COLUMN facts_replication.retained_bytes IS 'WAL this slot keeps on disk (grows while headquarters is away)';
COMMENT ON COLUMN facts_replication.replay_lag IS 'time from a commit here to its apply at headquarters (NULL while idle or disconnected)';

-- at headquarters: each subscription to an office's facts, its worker and its errors
CREATE OR REPLACE VIEW group_replication AS
	SELECT s.subname, s.subenabled AS enabled, st.pid IS NOT NULL AS running,
	       st.received_lsn, st.last_msg_receipt_time, st.latest_end_time,
	       pg_catalog.now() - st.last_msg_receipt_time AS since_last_message,
	       coalesce(ss.apply_error_count, 0) AS apply_errors, coalesce(ss.sync_error_count, 0) AS sync_errors,
	       (SELECT count(*) FROM pg_catalog.pg_subscription_rel r
	        WHERE r.srsubid = s.oid AND r.srsubstate OPERATOR(pg_catalog.<>) 'r') AS tables_not_ready
	FROM pg_catalog.pg_subscription s
	LEFT JOIN pg_catalog.pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL
	LEFT JOIN pg_catalog.pg_stat_subscription_stats ss ON ss.subid = s.oid
	WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
	  AND 'firstsight_facts' = ANY (s.subpublications);
COMMENT ON VIEW group_replication IS 'at headquarters: each subscription to an office''s firstsight_facts, whether its worker runs, what it last received, its errors';
COMMENT ON COLUMN group_replication.since_last_message IS 'time since the office last sent anything (data or keepalive); grows while the office or the network is down';
COMMENT ON COLUMN group_replication.apply_errors IS 'failed applies since the statistics were reset (a key conflict between offices stops the subscription here)';
COMMENT ON COLUMN group_replication.tables_not_ready IS 'tables still in their initial copy';

-- at headquarters: the newest fact of each office (how fresh the group views are)
-- (grouped parts joined to project, not subqueries per project: Citus plans these)
CREATE OR REPLACE VIEW group_freshness AS
	SELECT p.project_id, p.name AS project, p.group_name, c.last_capture_at, v.last_visit_end, d.last_deal_at
	FROM project p
	LEFT JOIN (SELECT c.project_id, max(c.inserted_at) AS last_capture_at FROM capture c GROUP BY c.project_id) c
	       ON c.project_id = p.project_id
	LEFT JOIN (SELECT v.project_id, max(v.ended_at) AS last_visit_end FROM visit v GROUP BY v.project_id) v
	       ON v.project_id = p.project_id
	LEFT JOIN (SELECT d.project_id, max(d.created_at) AS last_deal_at FROM deal d GROUP BY d.project_id) d
	       ON d.project_id = p.project_id;
COMMENT ON VIEW group_freshness IS 'the newest capture, visit and deal each project has here (at headquarters: how far each office''s facts reach)';

-- Group views at headquarters: the per-project views (daily_traffic,
-- channel_share, commission_ledger, flagged_deals, ...) already cover every
-- office there; these add them up per group (project.group_name).  Persons are
-- an office's own (faces never leave it), so unique_persons adds the offices'
-- counts; the same buyer at two offices is found by ID card in
-- group_cross_office_buyers.  The rollups behind daily_traffic and
-- channel_share are recomputed at headquarters by rebuild_rollups().
CREATE OR REPLACE VIEW group_traffic AS
	SELECT p.group_name, t.day, count(DISTINCT t.project_id) AS projects,
	       sum(t.visits)::bigint AS visits, sum(t.unique_persons)::bigint AS unique_persons,
	       sum(t.new_persons)::bigint AS new_persons, sum(t.returning_persons)::bigint AS returning_persons,
	       sum(t.accompanied_visits)::bigint AS accompanied_visits, sum(t.received_visits)::bigint AS received_visits
	FROM daily_traffic t JOIN project p ON p.project_id = t.project_id
	-- readable by roles granted every project of the group (issue 16)
	WHERE NOT EXISTS (SELECT 1 FROM project q WHERE q.group_name = p.group_name AND NOT reads_project(q.project_id))
	GROUP BY p.group_name, t.day;
COMMENT ON VIEW group_traffic IS 'visits per group and local day, added up over its projects (offices)';
COMMENT ON COLUMN group_traffic.unique_persons IS 'sum of each project''s distinct persons (a person is a project''s own)';

CREATE OR REPLACE VIEW group_channel_share AS
	WITH k AS (
		SELECT p.group_name, s.month, s.kind, sum(s.visits)::bigint AS visits, sum(s.deals)::bigint AS deals,
		       sum(s.revenue) AS revenue
		FROM channel_share s JOIN project p ON p.project_id = s.project_id
		-- readable by roles granted every project of the group (issue 16)
		WHERE NOT EXISTS (SELECT 1 FROM project q WHERE q.group_name = p.group_name AND NOT reads_project(q.project_id))
		GROUP BY p.group_name, s.month, s.kind)
	SELECT k.group_name, k.month, k.kind,
	       k.visits, round(k.visits::numeric / nullif(sum(k.visits) OVER w, 0), 4) AS visit_share,
	       k.deals, round(k.deals::numeric / nullif(sum(k.deals) OVER w, 0), 4) AS deal_share,
	       k.revenue
	FROM k
	WINDOW w AS (PARTITION BY k.group_name, k.month);
COMMENT ON VIEW group_channel_share IS 'each kind of channel''s share of the group''s visits and deals per local month';

CREATE OR REPLACE VIEW group_commissions AS
	-- (deals and revenue from the commission rows: referral rewards, issue 16,
	-- add their amounts, not their deals a second time)
	SELECT p.group_name, l.month, l.kind, count(DISTINCT l.project_id) AS projects,
	       coalesce(sum(l.deals) FILTER (WHERE l.entry = 'commission'), 0)::bigint AS deals,
	       coalesce(sum(l.revenue) FILTER (WHERE l.entry = 'commission'), 0) AS revenue, sum(l.commission) AS commission,
	       coalesce(sum(l.flagged_deals) FILTER (WHERE l.entry = 'commission'), 0)::bigint AS flagged_deals,
	       sum(l.flagged_commission) AS flagged_commission
	FROM commission_ledger l JOIN project p ON p.project_id = l.project_id
	-- readable by roles granted every project of the group (issue 16)
	WHERE NOT EXISTS (SELECT 1 FROM project q WHERE q.group_name = p.group_name AND NOT reads_project(q.project_id))
	GROUP BY p.group_name, l.month, l.kind;
COMMENT ON VIEW group_commissions IS 'commission owed per group, local month and kind of channel, from the offices'' current attributions (flags as the offices decided)';

-- headquarters' own decision: the deal's buyer (or a co-buyer) bound an ID card
-- at another project whose person was first seen before the deal's first visit
-- here (hash under the group key; no face leaves an office)
CREATE OR REPLACE VIEW group_prior_visits AS
	SELECT DISTINCT a.project_id, a.deal_id, o.project_id AS other_project_id, o.person_id AS other_person_id,
	       q.first_seen AS other_first_seen
	FROM attribution a
	JOIN deal d ON d.project_id = a.project_id AND d.deal_id = a.deal_id
	JOIN identity i ON i.project_id = d.project_id AND i.person_id = ANY (d.person_id || d.co_buyer_ids)
	                AND i.group_id_card_hash IS NOT NULL
	JOIN identity o ON o.group_id_card_hash = i.group_id_card_hash AND o.project_id <> i.project_id
	JOIN person q ON q.project_id = o.project_id AND q.person_id = o.person_id
	WHERE a.is_current AND q.first_seen < coalesce(a.first_visit_at, d.signed_at);
COMMENT ON VIEW group_prior_visits IS 'deals whose buyer was seen earlier at another project, by ID-card hash under the group key';

CREATE OR REPLACE VIEW group_flagged_deals AS
	WITH hq AS (
		SELECT g.project_id, g.deal_id, array_agg(DISTINCT g.other_project_id ORDER BY g.other_project_id) AS seen_before_at
		FROM group_prior_visits g GROUP BY g.project_id, g.deal_id)
	SELECT a.project_id, p.name AS project, p.group_name, a.deal_id,
	       (a.signed_at AT TIME ZONE p.time_zone) AS signed_local, x.price,
	       x.channel_id AS claimed_channel_id, cc.name AS claimed_channel,
	       a.entitled_channel_id, ec.name AS entitled_channel, ec.kind AS entitled_kind, a.commission, a.rule,
	       a.flags AS office_flags,
	       CASE WHEN hq.deal_id IS NULL THEN '{}'::text[] ELSE '{prior_visit_elsewhere}'::text[] END AS group_flags,
	       ARRAY(SELECT DISTINCT f FROM unnest(a.flags || CASE WHEN hq.deal_id IS NULL THEN '{}'::text[]
	                                                           ELSE '{prior_visit_elsewhere}'::text[] END) f ORDER BY f) AS flags,
	       hq.seen_before_at
	FROM attribution a
	JOIN project p ON p.project_id = a.project_id
	JOIN deal x ON x.project_id = a.project_id AND x.deal_id = a.deal_id
	JOIN channel ec ON ec.project_id = a.project_id AND ec.channel_id = a.entitled_channel_id
	LEFT JOIN channel cc ON cc.project_id = x.project_id AND cc.channel_id = x.channel_id
	LEFT JOIN hq ON hq.project_id = a.project_id AND hq.deal_id = a.deal_id
	WHERE a.is_current AND (cardinality(a.flags) > 0 OR hq.deal_id IS NOT NULL)
	  -- readable by roles granted every project of the group (issue 16)
	  AND reads_project(a.project_id)
	  AND NOT EXISTS (SELECT 1 FROM project q WHERE q.group_name = p.group_name AND NOT reads_project(q.project_id));
COMMENT ON VIEW group_flagged_deals IS 'flagged deals of every office: the office''s flags and headquarters'' own (prior_visit_elsewhere across offices)';
COMMENT ON COLUMN group_flagged_deals.office_flags IS 'flags the office decided (firstsight.explain_attribution there gives the timeline)';
COMMENT ON COLUMN group_flagged_deals.group_flags IS 'flags headquarters decided from the group''s facts';
COMMENT ON COLUMN group_flagged_deals.seen_before_at IS 'projects where the buyer was seen before the first visit here';

-- (two grouped parts joined by hash, not a correlated subquery: Citus plans
-- each part on the workers and joins the results, docs/scale-out.md)
CREATE OR REPLACE VIEW group_cross_office_buyers AS
	WITH b AS (
		SELECT i.group_id_card_hash AS id_card_group_hash,
		       count(DISTINCT i.project_id) AS projects,
		       array_agg(DISTINCT i.project_id ORDER BY i.project_id) AS project_ids,
		       min(q.first_seen) AS first_seen
		FROM identity i
		JOIN person q ON q.project_id = i.project_id AND q.person_id = i.person_id
		WHERE i.group_id_card_hash IS NOT NULL
		GROUP BY i.group_id_card_hash
		HAVING count(DISTINCT i.project_id) > 1),
	d AS (
		SELECT j.group_id_card_hash, count(DISTINCT (d.project_id, d.deal_id)) AS deals
		FROM deal d
		JOIN identity j ON j.project_id = d.project_id AND j.person_id = ANY (d.person_id || d.co_buyer_ids)
		WHERE j.group_id_card_hash IS NOT NULL
		GROUP BY j.group_id_card_hash)
	SELECT b.id_card_group_hash, b.projects, b.project_ids, b.first_seen, coalesce(d.deals, 0) AS deals
	FROM b LEFT JOIN d ON d.group_id_card_hash = b.id_card_group_hash;
COMMENT ON VIEW group_cross_office_buyers IS 'ID cards (hashes under the group key) bound at more than one project: where, first seen, deals naming them';

-- the group views analysts read are security barriers, as the per-project ones (430_access_hardening.sql)
ALTER VIEW group_traffic SET (security_barrier = true);
ALTER VIEW group_channel_share SET (security_barrier = true);
ALTER VIEW group_commissions SET (security_barrier = true);
ALTER VIEW group_flagged_deals SET (security_barrier = true);

-- An upgrade adds new fact tables and columns to an existing publication:
-- every code piece runs again after ALTER EXTENSION UPDATE, and so does this.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'firstsight_facts') THEN
		PERFORM firstsight.create_facts_publication();
	END IF;
END
$$;
