-- Attribution that holds up in a dispute.  Every change to receptions,
-- reports, bindings, deals, persons (merge, split) and settings is kept in
-- change_log (append-only; who: session_user, application_name and the
-- optional firstsight.actor setting; when; old; new).  A change that can
-- move money on a decided deal decides it again (redecide_deals; a new
-- version flagged late_change when the entitled channel, agent or commission
-- changes).  Reports are dated by the database and get a verdict at filing.
-- Rows applied under session_replication_role = replica (restore, logical
-- replication) fire none of these triggers: they are ordinary triggers.

COMMENT ON TABLE change_log IS 'append-only history of changes to receptions, reports, bindings, deals, persons and settings: who, when, old, new';
COMMENT ON COLUMN change_log.changed_by IS 'session_user of the change';
COMMENT ON COLUMN change_log.application IS 'application_name of the session';
COMMENT ON COLUMN change_log.actor IS 'the firstsight.actor setting the sales app sets per request (apps often share one login)';
COMMENT ON TABLE person_distinct IS 'pairs of persons a manager split apart: automatic merging and identity linking never join them';
COMMENT ON TABLE sighting_elsewhere IS 'buyers seen earlier at a sister project, kept when a decision found them (faces there may expire)';
COMMENT ON COLUMN report.created_at IS 'when the database received the report (filed_at): the time every rule uses';
COMMENT ON COLUMN report.reported_at IS 'the time the caller claims; stored and shown, never trusted';
COMMENT ON COLUMN report.verdict IS 'the verdict at filing: accepted, protected (another channel holds the customer) or visited (the customer already came)';
COMMENT ON COLUMN report.verdict_until IS 'protected: until when another channel holds the customer';
COMMENT ON COLUMN face.held_until IS 'kept past retention until then: an ownership or protection window depends on recognising the person (exemplar_hold)';

-- a row as history keeps it: keyed identity hashes are left out (their kinds stay)
CREATE OR REPLACE FUNCTION change_row(r jsonb) RETURNS jsonb
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$
	SELECT (r - 'phone_hash' - 'phone_masked_hash' - 'id_card_hash' - 'group_id_card_hash')
	       || CASE WHEN r ? 'phone_masked_hash'
	               THEN jsonb_build_object('hashes', to_jsonb(ARRAY(SELECT k FROM unnest(ARRAY['id_card_hash', 'phone_hash', 'phone_masked_hash', 'group_id_card_hash']) k
	                                                                  WHERE r->>k IS NOT NULL)))
	               ELSE '{}' END
	$$;

-- write one history entry
CREATE OR REPLACE FUNCTION record_change(p_project_id bigint, p_subject text, p_subject_id text, p_action text, p_old jsonb, p_new jsonb)
	RETURNS void
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	INSERT INTO change_log (project_id, subject, subject_id, action, old, new)
	VALUES (p_project_id, p_subject, p_subject_id, p_action, change_row(p_old), change_row(p_new))
	$$;

-- history entries are stamped by the database, whatever the inserter says
CREATE OR REPLACE FUNCTION change_log_stamp() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	NEW.changed_at := statement_timestamp();
	NEW.changed_by := session_user;
	NEW.application := nullif(current_setting('application_name'), '');
	NEW.actor := nullif(current_setting('firstsight.actor', true), '');
	RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER change_log_stamp BEFORE INSERT ON change_log FOR EACH ROW EXECUTE FUNCTION change_log_stamp();

-- history is append-only
CREATE OR REPLACE FUNCTION change_log_guard() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
		MESSAGE = 'change_log is append-only',
		DETAIL = format('%s on the history of changes is refused.', TG_OP),
		HINT = 'The history is the evidence of a dispute; a correction is a new change, recorded in its turn.';
END
$$;
CREATE OR REPLACE TRIGGER change_log_guard BEFORE UPDATE OR DELETE ON change_log
	FOR EACH ROW EXECUTE FUNCTION change_log_guard();
CREATE OR REPLACE TRIGGER change_log_truncate BEFORE TRUNCATE ON change_log
	FOR EACH STATEMENT EXECUTE FUNCTION change_log_guard();
-- the guards fire under session_replication_role = replica too (a restore or
-- a replication apply loads rows, it never removes history; the history
-- triggers themselves are origin-only, so restored changes are not recorded
-- twice); CREATE OR REPLACE TRIGGER enables for origin only, hence here
ALTER TABLE change_log ENABLE ALWAYS TRIGGER change_log_guard, ENABLE ALWAYS TRIGGER change_log_truncate;

-- a visit inserted outside the capture triggers that ingestion itself wrote:
-- central ingestion on Citus (ingest_capture stores the capture, then inserts
-- the visit it opens, from no trigger).  Such a visit's first capture is a
-- stored capture taken at the visit's start and in no other visit.
-- (PL/pgSQL, no whole-row argument: on Citus it runs on the shards)
CREATE OR REPLACE FUNCTION visit_from_camera(p_project_id bigint, p_visit_id bigint, p_first_capture_id bigint, p_started_at timestamptz)
	RETURNS boolean
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN p_first_capture_id IS NOT NULL AND EXISTS (
		SELECT 1 FROM capture c
		WHERE c.project_id = p_project_id AND c.capture_id = p_first_capture_id AND c.captured_at = p_started_at
		  AND (c.visit_id IS NULL OR c.visit_id = p_visit_id));
END
$$;

-- history of rows of the tables the rules read; TG_ARGV: subject, key
-- column, and a prefix of the subject id (settings kept in several tables)
CREATE OR REPLACE FUNCTION history() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	o jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
	n jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
BEGIN
	IF TG_ARGV[0] = 'reception' THEN
		-- a visit's reception: only the columns receive() sets
		o := jsonb_build_object('project_id', o->'project_id', 'visit_id', o->'visit_id', 'consultant_id', o->'consultant_id', 'agent_id', o->'agent_id', 'received_at', o->'received_at', 'person_id', o->'person_id');
		n := jsonb_build_object('project_id', n->'project_id', 'visit_id', n->'visit_id', 'consultant_id', n->'consultant_id', 'agent_id', n->'agent_id', 'received_at', n->'received_at', 'person_id', n->'person_id');
	END IF;
	IF TG_ARGV[0] = 'visit' THEN
		-- a visit edited by hand (its start or person) or deleted: what a decision reads of it
		IF in_correction() THEN
			RETURN NULL;	-- a merge or split moves visits: its own entry records it
		END IF;
		IF TG_OP = 'INSERT' AND visit_from_camera((n->>'project_id')::bigint, (n->>'visit_id')::bigint, (n->>'first_capture_id')::bigint,
		                                          (n->>'started_at')::timestamptz) THEN
			RETURN NULL;	-- central ingestion on Citus (see visit_from_camera)
		END IF;
		o := CASE WHEN o IS NOT NULL THEN jsonb_build_object('project_id', o->'project_id', 'visit_id', o->'visit_id', 'person_id', o->'person_id', 'started_at', o->'started_at', 'ended_at', o->'ended_at', 'consultant_id', o->'consultant_id', 'agent_id', o->'agent_id') END;
		n := CASE WHEN n IS NOT NULL THEN jsonb_build_object('project_id', n->'project_id', 'visit_id', n->'visit_id', 'person_id', n->'person_id', 'started_at', n->'started_at', 'ended_at', n->'ended_at', 'consultant_id', n->'consultant_id', 'agent_id', n->'agent_id') END;
	END IF;
	IF TG_ARGV[0] = 'deal' AND TG_OP = 'DELETE' THEN
		-- a deleted deal's decisions go with it (attribution cascades): the
		-- history keeps them, every version, so the evidence stays
		o := o || jsonb_build_object('attributions', (SELECT jsonb_agg(to_jsonb(a) ORDER BY a.version) FROM attribution a
		                                              WHERE a.project_id = OLD.project_id AND a.deal_id = OLD.deal_id));
	END IF;
	IF o = n THEN
		RETURN NULL;		-- an update that changed nothing
	END IF;
	PERFORM record_change((coalesce(n, o)->>'project_id')::bigint, TG_ARGV[0],
	                      coalesce(TG_ARGV[2], '') || (coalesce(n, o)->>TG_ARGV[1]), lower(TG_OP), o, n);
	IF TG_WHEN = 'BEFORE' THEN
		RETURN OLD;			-- deal_history_delete: let the delete go on
	END IF;
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER reception_history AFTER UPDATE OF consultant_id, agent_id ON visit FOR EACH ROW
	WHEN (OLD.consultant_id IS DISTINCT FROM NEW.consultant_id OR OLD.agent_id IS DISTINCT FROM NEW.agent_id)
	EXECUTE FUNCTION history('reception', 'visit_id');
-- a visit's start or person changed by hand, or a visit deleted: the facts
-- the decision walks (the cameras' path moves a start only for a capture
-- that arrives late and earlier; merges and splits record themselves)
CREATE OR REPLACE TRIGGER visit_history AFTER UPDATE OF started_at, person_id ON visit FOR EACH ROW
	WHEN (OLD.started_at IS DISTINCT FROM NEW.started_at OR OLD.person_id IS DISTINCT FROM NEW.person_id)
	EXECUTE FUNCTION history('visit', 'visit_id');
CREATE OR REPLACE TRIGGER visit_history_delete AFTER DELETE ON visit FOR EACH ROW
	EXECUTE FUNCTION history('visit', 'visit_id');
-- a visit inserted by hand (by the owner, a DBA, a login granted INSERT), not
-- by ingestion: ingestion inserts visits from the capture triggers
-- (capture_ingest, capture_ingest_row), so a visit INSERT outside any trigger
-- is a hand insert; the one exception, central ingestion on Citus, is told by
-- visit_from_camera.  The WHEN clause keeps the cameras' path free of any call.
CREATE OR REPLACE TRIGGER visit_history_insert AFTER INSERT ON visit FOR EACH ROW
	WHEN (pg_catalog.pg_trigger_depth() OPERATOR(pg_catalog.=) 0)
	EXECUTE FUNCTION history('visit', 'visit_id');
CREATE OR REPLACE TRIGGER report_history AFTER INSERT OR UPDATE OR DELETE ON report FOR EACH ROW
	EXECUTE FUNCTION history('report', 'report_id');
CREATE OR REPLACE TRIGGER binding_history AFTER INSERT OR UPDATE OR DELETE ON identity FOR EACH ROW
	EXECUTE FUNCTION history('binding', 'identity_id');
CREATE OR REPLACE TRIGGER deal_history AFTER INSERT OR UPDATE ON deal FOR EACH ROW
	EXECUTE FUNCTION history('deal', 'deal_id');
-- before the delete, while the deal's decisions are still there to keep
CREATE OR REPLACE TRIGGER deal_history_delete BEFORE DELETE ON deal FOR EACH ROW
	EXECUTE FUNCTION history('deal', 'deal_id');
CREATE OR REPLACE TRIGGER setting_history AFTER INSERT OR UPDATE OR DELETE ON project_setting FOR EACH ROW
	EXECUTE FUNCTION history('setting', 'setting');
CREATE OR REPLACE TRIGGER channel_history AFTER UPDATE OR DELETE ON channel FOR EACH ROW
	EXECUTE FUNCTION history('setting', 'channel_id');
-- an agent moved to another channel moves the money of the deals it brought
CREATE OR REPLACE TRIGGER agent_history AFTER UPDATE OR DELETE ON agent FOR EACH ROW
	EXECUTE FUNCTION history('setting', 'agent_id', 'agent ');
-- the time zone draws every window's end; the group finds sister projects
CREATE OR REPLACE TRIGGER project_history AFTER UPDATE OF time_zone, group_name ON project FOR EACH ROW
	WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone OR OLD.group_name IS DISTINCT FROM NEW.group_name)
	EXECUTE FUNCTION history('setting', 'project_id', 'project ');

-- a setting a decision reads changed (a rule setting, a channel's rate,
-- window or cut-off, an agent's channel, the time zone or group): decide
-- the project's decided deals again, in signing order; a changed decision
-- becomes a new version, late_change when money moves, naming the change
CREATE OR REPLACE FUNCTION redecide_on_setting() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	o jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
	n jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
	pid bigint := (coalesce(n, o)->>'project_id')::bigint;
	what text;
	dl bigint;
BEGIN
	IF in_correction() THEN
		RETURN NULL;
	END IF;
	what := CASE TG_TABLE_NAME
	        WHEN 'project_setting' THEN format('setting %s', coalesce(n, o)->>'setting')
	        WHEN 'channel' THEN format('channel %s', coalesce(n, o)->>'channel_id')
	        WHEN 'agent' THEN format('agent %s', coalesce(n, o)->>'agent_id')
	        ELSE 'project time zone or group' END;
	IF TG_TABLE_NAME = 'project_setting'
	   AND coalesce(n, o)->>'setting' NOT IN ('attribution_mode', 'natural_ownership_days', 'consultant_ownership_days', 'report_validity',
	                                         'abnormal_cycle_sigma', 'abnormal_cycle_window_days', 'abnormal_cycle_min_deals', 'match_distance',
	                                         'deal_backdate_tolerance') THEN
		RETURN NULL;
	END IF;
	FOR dl IN SELECT x.deal_id FROM deal x
	          WHERE x.project_id = pid
	            AND EXISTS (SELECT 1 FROM attribution t WHERE t.project_id = x.project_id AND t.deal_id = x.deal_id)
	          ORDER BY x.signed_at, x.deal_id LOOP
		PERFORM store_decision(pid, dl, what || ' changed', false);
	END LOOP;
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER setting_redecide AFTER INSERT OR UPDATE OR DELETE ON project_setting FOR EACH ROW
	EXECUTE FUNCTION redecide_on_setting();
CREATE OR REPLACE TRIGGER channel_redecide AFTER UPDATE OF commission_rate, protection_days, report_cutoff, kind ON channel FOR EACH ROW
	WHEN ((OLD.commission_rate, OLD.protection_days, OLD.report_cutoff, OLD.kind)
	      IS DISTINCT FROM (NEW.commission_rate, NEW.protection_days, NEW.report_cutoff, NEW.kind))
	EXECUTE FUNCTION redecide_on_setting();
CREATE OR REPLACE TRIGGER agent_redecide AFTER UPDATE OF channel_id ON agent FOR EACH ROW
	WHEN (OLD.channel_id IS DISTINCT FROM NEW.channel_id)
	EXECUTE FUNCTION redecide_on_setting();
-- an agent who accompanied a visit stays: the visit is evidence, and without
-- the agent's row it would count for no channel (reports and deals have keys
-- to agent; visits, written by the cameras' path, do not)
CREATE OR REPLACE FUNCTION agent_delete_guard() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM visit v WHERE v.project_id = OLD.project_id AND v.agent_id = OLD.agent_id) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('agent %s of project %s accompanied visits and cannot be deleted', OLD.agent_id, OLD.project_id),
			DETAIL = 'The visits an agent accompanied are the evidence of the decisions that name their channel.',
			HINT = 'Keep the agent; to change who is paid for them, move the agent to another channel (recorded and decided again).';
	END IF;
	RETURN OLD;
END
$$;
CREATE OR REPLACE TRIGGER agent_delete_guard BEFORE DELETE ON agent FOR EACH ROW EXECUTE FUNCTION agent_delete_guard();
CREATE OR REPLACE TRIGGER project_redecide AFTER UPDATE OF time_zone, group_name ON project FOR EACH ROW
	WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone OR OLD.group_name IS DISTINCT FROM NEW.group_name)
	EXECUTE FUNCTION redecide_on_setting();

-- a person's merged_into changed by hand (merge_person and split_person
-- record themselves): who the buyers are changed; keep it and decide the
-- deals of both sides again
CREATE OR REPLACE FUNCTION person_merged_by_hand() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF in_correction() THEN
		RETURN NULL;
	END IF;
	PERFORM record_change(NEW.project_id, 'person', NEW.person_id::text, 'update',
	                      jsonb_build_object('person_id', OLD.person_id, 'merged_into', OLD.merged_into),
	                      jsonb_build_object('person_id', NEW.person_id, 'merged_into', NEW.merged_into));
	PERFORM redecide_deals(NEW.project_id, ARRAY[NEW.person_id, OLD.merged_into, NEW.merged_into],
	                       format('person %s merged_into changed', NEW.person_id));
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER person_merged_history AFTER UPDATE OF merged_into ON person FOR EACH ROW
	WHEN (OLD.merged_into IS DISTINCT FROM NEW.merged_into)
	EXECUTE FUNCTION person_merged_by_hand();

-- a late reception, binding or report change: decide the person's decided
-- deals again, and those of the persons linked to them by a hash
CREATE OR REPLACE FUNCTION redecide_on_change() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	persons bigint[];
	o jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
	n jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
	pid bigint := (coalesce(n, o)->>'project_id')::bigint;
	-- the subject by the trigger's key column, not TG_TABLE_NAME: on a
	-- Citus worker the trigger fires on a shard (visit_102008)
	subject text := CASE TG_ARGV[0] WHEN 'visit_id' THEN 'visit' WHEN 'report_id' THEN 'report'
	                                WHEN 'identity_id' THEN 'binding' END;
BEGIN
	IF in_correction() THEN
		RETURN NULL;
	END IF;
	IF subject = 'visit' AND TG_OP = 'INSERT'
	   AND visit_from_camera(pid, (n->>'visit_id')::bigint, (n->>'first_capture_id')::bigint, (n->>'started_at')::timestamptz) THEN
		RETURN NULL;
	END IF;
	IF subject = 'report' THEN
		-- the persons bound to the phone the report names
		persons := ARRAY(SELECT i.person_id FROM identity i
		                 WHERE i.project_id = pid
		                   AND (i.phone_hash IN ((o->>'phone_hash')::bytea, (n->>'phone_hash')::bytea)
		                        OR i.phone_masked_hash IN ((o->>'phone_masked_hash')::bytea, (n->>'phone_masked_hash')::bytea)));
	ELSIF subject = 'binding' THEN
		-- the binding's person, and the persons sharing the hashes it had:
		-- a changed or deleted binding can unlink them (redecide_deals adds
		-- the persons linked to these as they are now)
		persons := ARRAY[(o->>'person_id')::bigint, (n->>'person_id')::bigint]
		           || ARRAY(SELECT i.person_id FROM identity i
		                    WHERE i.project_id = pid
		                      AND (i.phone_hash = (o->>'phone_hash')::bytea OR i.id_card_hash = (o->>'id_card_hash')::bytea));
	ELSE
		persons := ARRAY[(o->>'person_id')::bigint, (n->>'person_id')::bigint];
	END IF;
	-- the reason says what happened: a deleted report, binding or visit is
	-- "deleted", with who deleted it; a visit inserted by hand says so
	PERFORM redecide_deals(pid, persons, format('%s %s %s', CASE WHEN TG_NAME = 'reception_redecide' THEN 'reception of visit' ELSE subject END,
	                                           coalesce(n, o)->>TG_ARGV[0],
	                                           CASE TG_OP WHEN 'DELETE' THEN 'deleted by ' || change_who(session_user, nullif(current_setting('application_name'), ''),
	                                                                                                   nullif(current_setting('firstsight.actor', true), ''))
	                                                      WHEN 'INSERT' THEN CASE WHEN subject = 'visit' THEN 'inserted by hand' ELSE 'changed' END
	                                                      ELSE 'changed' END));
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER reception_redecide AFTER UPDATE OF consultant_id, agent_id ON visit FOR EACH ROW
	WHEN (OLD.consultant_id IS DISTINCT FROM NEW.consultant_id OR OLD.agent_id IS DISTINCT FROM NEW.agent_id)
	EXECUTE FUNCTION redecide_on_change('visit_id');
-- a visit's start or person edited by hand, or a visit deleted: the deals
-- of the persons it left and joined (and of those linked to them)
CREATE OR REPLACE TRIGGER visit_redecide AFTER UPDATE OF started_at, person_id ON visit FOR EACH ROW
	WHEN (OLD.started_at IS DISTINCT FROM NEW.started_at OR OLD.person_id IS DISTINCT FROM NEW.person_id)
	EXECUTE FUNCTION redecide_on_change('visit_id');
CREATE OR REPLACE TRIGGER visit_redecide_delete AFTER DELETE ON visit FOR EACH ROW
	EXECUTE FUNCTION redecide_on_change('visit_id');
-- a visit inserted by hand (visit_history_insert): the deals of its person
CREATE OR REPLACE TRIGGER visit_redecide_insert AFTER INSERT ON visit FOR EACH ROW
	WHEN (pg_catalog.pg_trigger_depth() OPERATOR(pg_catalog.=) 0)
	EXECUTE FUNCTION redecide_on_change('visit_id');
CREATE OR REPLACE TRIGGER binding_redecide AFTER INSERT OR UPDATE OR DELETE ON identity FOR EACH ROW
	EXECUTE FUNCTION redecide_on_change('identity_id');
CREATE OR REPLACE TRIGGER report_redecide AFTER UPDATE OR DELETE ON report FOR EACH ROW
	EXECUTE FUNCTION redecide_on_change('report_id');

-- a report is dated and judged by the database, whoever writes the row
-- (file_report_verdict or a sales app inserting it): created_at is the
-- filing time and the verdict the one report_verdict gives at filing, both
-- kept on update; a duplicate of the channel's valid report is refused; a
-- claimed time (reported_at) beyond max_clock_skew in the future is refused
CREATE OR REPLACE FUNCTION report_filed_at() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	v record;
	skew interval;
BEGIN
	IF TG_OP = 'INSERT' THEN
		NEW.created_at := now();
		-- one filing at a time per project (file_report_verdict holds it already)
		PERFORM pg_advisory_xact_lock(hashtextextended('firstsight.report', NEW.project_id));
		SELECT * INTO v FROM report_verdict(NEW.project_id, NEW.agent_id, NEW.phone_hash, NEW.phone_masked_hash);
		IF v.verdict = 'duplicate' THEN
			RAISE EXCEPTION USING ERRCODE = 'unique_violation',
				MESSAGE = 'duplicate report',
				DETAIL = upper(left(v.reason, 1)) || substr(v.reason, 2) || '.',
				HINT = 'file_report_verdict returns the earlier report''s id for a duplicate.';
		END IF;
		NEW.verdict := v.verdict;
		NEW.verdict_until := v.until;
	ELSE
		NEW.created_at := OLD.created_at;
		NEW.verdict := OLD.verdict;
		NEW.verdict_until := OLD.verdict_until;
	END IF;
	IF NEW.reported_at IS DISTINCT FROM OLD.reported_at THEN
		skew := project_setting_value(NEW.project_id, 'max_clock_skew')::interval;
		IF NEW.reported_at > now() + skew THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = 'report time is in the future',
				DETAIL = format('The claimed report time is more than %s ahead of the database clock.', skew),
				HINT = 'Reports count from when the database receives them; send the time the agent filed it, or none.';
		END IF;
	END IF;
	RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER report_filed_at BEFORE INSERT OR UPDATE ON report FOR EACH ROW EXECUTE FUNCTION report_filed_at();

-- a deal's entry is dated by the database, whoever writes the row (a sales
-- app through record_deal, or by hand): created_at is the time of the first
-- entry, against which a claimed signing time is checked
-- (deal_backdate_tolerance); an UPDATE keeps it
CREATE OR REPLACE FUNCTION deal_entered_at() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		NEW.created_at := now();
	ELSE
		NEW.created_at := OLD.created_at;
	END IF;
	RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER deal_entered_at BEFORE INSERT OR UPDATE ON deal FOR EACH ROW EXECUTE FUNCTION deal_entered_at();

-- a deal's claim must be consistent: its agent belongs to its channel, its co-buyers exist
CREATE OR REPLACE FUNCTION deal_claim_check() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	agent_ch bigint;
	missing bigint;
BEGIN
	IF NEW.agent_id IS NOT NULL AND NEW.channel_id IS NOT NULL THEN
		SELECT ag.channel_id INTO agent_ch FROM agent ag WHERE ag.project_id = NEW.project_id AND ag.agent_id = NEW.agent_id;
		IF agent_ch IS DISTINCT FROM NEW.channel_id THEN
			RAISE EXCEPTION USING ERRCODE = 'check_violation',
				MESSAGE = format('deal %s claims channel %s with agent %s of channel %s', NEW.deal_id, NEW.channel_id, NEW.agent_id,
				                 coalesce(agent_ch::text, 'none')),
				DETAIL = 'A deal''s claimed agent must belong to its claimed channel.',
				HINT = 'Claim the agent''s own channel, or leave channel_id NULL to claim it through the agent.';
		END IF;
	END IF;
	SELECT x INTO missing FROM unnest(NEW.co_buyer_ids) x
	WHERE x IS NULL OR NOT EXISTS (SELECT 1 FROM person p WHERE p.project_id = NEW.project_id AND p.person_id = x)
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('co-buyer %s of deal %s is not a person of project %s', coalesce(missing::text, 'NULL'), NEW.deal_id, NEW.project_id),
			DETAIL = 'Every co-buyer id must name a person of the project.',
			HINT = 'Use the person ids firstsight.person holds (merged persons are followed).';
	END IF;
	RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER deal_claim_check BEFORE INSERT OR UPDATE OF channel_id, agent_id, co_buyer_ids ON deal
	FOR EACH ROW EXECUTE FUNCTION deal_claim_check();

-- the verdict a report would get now, and until when another channel holds
-- the customer; no other agency's identity, no personal data in the reason
CREATE OR REPLACE FUNCTION report_verdict(p_project_id bigint, p_agent_id bigint, p_full_hash bytea, p_masked_hash bytea,
                                          OUT verdict text, OUT reason text, OUT until timestamptz, OUT duplicate_of bigint)
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	tz text := (SELECT p.time_zone FROM project p WHERE p.project_id = p_project_id);
	validity interval := project_setting_value(p_project_id, 'report_validity')::interval;
	my_ch bigint := (SELECT ag.channel_id FROM agent ag WHERE ag.project_id = p_project_id AND ag.agent_id = p_agent_id);
	persons bigint[];
	alone boolean;
	with_other boolean;
BEGIN
	-- reports on the same phone still valid now: by the same channel (duplicate; a masked
	-- report duplicates any report of the same digits), or another channel's accepted one (protected)
	SELECT rp.report_id, report_expiry(rp.created_at, ch.report_cutoff, validity, tz) INTO duplicate_of, until
	FROM report rp
	JOIN agent ag ON ag.project_id = rp.project_id AND ag.agent_id = rp.agent_id
	JOIN channel ch ON ch.project_id = ag.project_id AND ch.channel_id = ag.channel_id
	WHERE rp.project_id = p_project_id AND ag.channel_id = my_ch
	  AND CASE WHEN p_full_hash IS NOT NULL THEN rp.phone_hash = p_full_hash ELSE rp.phone_masked_hash = p_masked_hash END
	  AND report_expiry(rp.created_at, ch.report_cutoff, validity, tz) > now()
	ORDER BY rp.created_at, rp.report_id LIMIT 1;
	IF duplicate_of IS NOT NULL THEN
		verdict := 'duplicate';
		reason := format('your agency already reported this customer; that report is valid until %s', local_text(until, tz));
		RETURN;
	END IF;
	-- another channel's hold: its valid report, or its accompanied visit whose protection window is open
	-- (the persons bound to the phone, and those linked to them by a full phone or ID card: one buyer)
	persons := linked_persons(p_project_id, ARRAY(SELECT i.person_id FROM identity i WHERE i.project_id = p_project_id
	                 AND CASE WHEN p_full_hash IS NOT NULL THEN i.phone_hash = p_full_hash ELSE i.phone_masked_hash = p_masked_hash END));
	SELECT max(u) INTO until FROM (
		SELECT report_expiry(rp.created_at, ch.report_cutoff, validity, tz) AS u
		FROM report rp
		JOIN agent ag ON ag.project_id = rp.project_id AND ag.agent_id = rp.agent_id
		JOIN channel ch ON ch.project_id = ag.project_id AND ch.channel_id = ag.channel_id
		WHERE rp.project_id = p_project_id AND ag.channel_id IS DISTINCT FROM my_ch
		  AND (rp.verdict IS NULL OR rp.verdict = 'accepted')
		  AND CASE WHEN p_full_hash IS NOT NULL THEN rp.phone_hash = p_full_hash ELSE rp.phone_masked_hash = p_masked_hash END
		UNION ALL
		SELECT local_days_end(v.started_at, ch.protection_days, tz)
		FROM visit v
		JOIN agent ag ON ag.project_id = v.project_id AND ag.agent_id = v.agent_id
		JOIN channel ch ON ch.project_id = ag.project_id AND ch.channel_id = ag.channel_id
		WHERE v.project_id = p_project_id AND v.person_id = ANY (persons) AND ag.channel_id IS DISTINCT FROM my_ch) h
	WHERE u > now();
	IF until IS NOT NULL THEN
		verdict := 'protected';
		reason := format('the customer is protected by another channel until %s; this report is kept but gives no protection before then',
		                 local_text(until, tz));
		RETURN;
	END IF;
	-- already visited: alone, or with another channel
	SELECT bool_or(v.agent_id IS NULL), bool_or(v.agent_id IS NOT NULL) INTO alone, with_other
	FROM visit v LEFT JOIN agent ag ON ag.project_id = v.project_id AND ag.agent_id = v.agent_id
	WHERE v.project_id = p_project_id AND v.person_id = ANY (persons) AND v.started_at <= now()
	  AND ag.channel_id IS DISTINCT FROM my_ch;
	IF alone OR with_other THEN
		verdict := 'visited';
		reason := format('the customer has already visited %s; a report filed now does not cover an earlier visit',
		                 CASE WHEN alone THEN 'as a natural visitor' ELSE 'with another agency' END);
		RETURN;
	END IF;
	-- or with this agency's own agent under no report of it that covered the
	-- visit: in report_protection mode that visit counted as a natural one
	IF project_setting_value(p_project_id, 'attribution_mode') = 'report_protection' AND EXISTS (
		SELECT 1 FROM visit v JOIN agent ag ON ag.project_id = v.project_id AND ag.agent_id = v.agent_id AND ag.channel_id = my_ch
		WHERE v.project_id = p_project_id AND v.person_id = ANY (persons) AND v.started_at <= now()
		  AND NOT EXISTS (
			SELECT 1 FROM report rp
			JOIN agent ra ON ra.project_id = rp.project_id AND ra.agent_id = rp.agent_id AND ra.channel_id = my_ch
			JOIN channel rc ON rc.project_id = ra.project_id AND rc.channel_id = ra.channel_id
			JOIN identity i ON i.project_id = rp.project_id AND i.person_id = ANY (persons)
			               AND ((rp.phone_hash IS NOT NULL AND rp.phone_hash = i.phone_hash)
			                    OR (rp.phone_hash IS NULL AND rp.phone_masked_hash = i.phone_masked_hash))
			WHERE rp.project_id = p_project_id
			  AND report_covers(rp.created_at, report_expiry(rp.created_at, rc.report_cutoff, validity, tz), v.started_at))) THEN
		verdict := 'visited';
		reason := 'the customer has already visited with your agency but with no valid report, which counts as a natural visit; a report filed now does not cover an earlier visit';
		RETURN;
	END IF;
	verdict := 'accepted';
	reason := format('accepted; valid until %s',
	                 local_text(report_expiry(now(), (SELECT ch.report_cutoff FROM channel ch WHERE ch.project_id = p_project_id AND ch.channel_id = my_ch),
	                                          validity, tz), tz));
END
$$;

-- file an agency's report (报备) and say at once what it is worth: accepted,
-- duplicate (of this agency's report: not stored twice, its id returned),
-- protected (another channel holds the customer until a date: stored, it is
-- evidence) or visited (the customer already came: stored)
CREATE OR REPLACE FUNCTION file_report_verdict(project_id bigint, agent_id bigint, phone text, reported_at timestamptz DEFAULT now(),
                                               OUT report_id bigint, OUT verdict text, OUT reason text)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := file_report_verdict.project_id;
	v text := regexp_replace(phone, '[\s()+.-]', '', 'g');
	skew interval;
	full_hash bytea;
	masked_hash bytea;
	until timestamptz;
	dup bigint;
BEGIN
	-- sales apps: their projects; an agency login: its own channel's agents (issue 16)
	PERFORM require_project(pid, file_report_verdict.agent_id);
	IF phone IS NULL OR reported_at IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'a report needs a phone number and a time';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM agent a WHERE a.project_id = pid AND a.agent_id = file_report_verdict.agent_id) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('agent %s of project %s does not exist', file_report_verdict.agent_id, pid),
			HINT = 'Add the agent to firstsight.agent first.';
	END IF;
	skew := project_setting_value(pid, 'max_clock_skew')::interval;
	IF reported_at > now() + skew THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'report time is in the future',
			DETAIL = format('The claimed report time is more than %s ahead of the database clock.', skew),
			HINT = 'Reports count from when the database receives them; send the time the agent filed it, or none.';
	END IF;
	IF v ~ '^[0-9]{3}\*+[0-9]{4}$' THEN
		masked_hash := identity_hash('phone_masked', phone_mask(v));
	ELSE
		full_hash := identity_hash('phone', normalize_phone(phone));
		masked_hash := identity_hash('phone_masked', phone_mask(phone));
	END IF;
	-- the deposit refusal counts from now, the filing time, not the claimed
	-- time; a deposit of a person linked to the phone's persons by a full
	-- phone or ID card is the buyer's deposit
	IF EXISTS (SELECT 1 FROM person p
	           WHERE p.project_id = pid AND p.deposit_at <= now()
	             AND p.person_id = ANY (linked_persons(pid, ARRAY(
	                     SELECT i.person_id FROM identity i
	                     WHERE i.project_id = pid
	                       AND CASE WHEN full_hash IS NOT NULL THEN i.phone_hash = full_hash
	                                ELSE i.phone_masked_hash = masked_hash END)))) THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = 'customer has already paid a deposit and cannot be reported',
			DETAIL = 'A person bound to this phone number, or linked to one by an ID card or phone, paid a deposit before the report was filed.',
			HINT = 'Reports protect agencies only for customers who have not yet paid a deposit.';
	END IF;
	-- one filing at a time per project: two agencies filing the same customer at once get one verdict each, in order
	PERFORM pg_advisory_xact_lock(hashtextextended('firstsight.report', pid));
	SELECT r.verdict, r.reason, r.until, r.duplicate_of INTO verdict, reason, until, dup
	FROM report_verdict(pid, file_report_verdict.agent_id, full_hash, masked_hash) r;
	IF verdict = 'duplicate' THEN
		report_id := dup;
		RETURN;
	END IF;
	INSERT INTO report (project_id, agent_id, phone_hash, phone_masked_hash, reported_at, verdict, verdict_until)
	VALUES (pid, file_report_verdict.agent_id, full_hash, masked_hash, file_report_verdict.reported_at, verdict, until)
	RETURNING report.report_id INTO report_id;
END
$$;
COMMENT ON FUNCTION file_report_verdict(bigint, bigint, text, timestamptz) IS
	'file an agency''s report (报备) and return its id with the verdict (accepted, duplicate, protected, visited) and the reason';
