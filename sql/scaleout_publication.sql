-- An edge office's facts publication, project ids given by headquarters, the
-- group key, and the group views (docs/scale-out.md).  The replication itself
-- is TAP 520 (two offices and headquarters).
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY default

-- the published tables and columns: no face, no photo, no office-keyed hash
-- (the warning about wal_level depends on the server: not shown)
SET client_min_messages = error;
SELECT table_name, columns FROM create_facts_publication() ORDER BY table_name::text;
RESET client_min_messages;
SELECT pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = 'firstsight_facts';
-- nothing biometric, no key, no secret, whatever the column
SELECT count(*) AS biometric_or_secret_columns
FROM pg_publication_tables t, unnest(t.attnames) c
WHERE t.pubname = 'firstsight_facts'
  AND (c IN ('face', 'photo', 'secret', 'id_card_hash', 'phone_hash')
       OR t.tablename IN ('face', 'hash_key', 'group_key', 'webhook', 'outbox', 'outbox_delivery', 'project_access', 'retention_log'));
-- every published table's key leads with project_id
SELECT t.tablename, (SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                     WHERE i.indrelid = format('firstsight.%I', t.tablename)::regclass AND i.indisprimary) AS key_leads_with
FROM pg_publication_tables t WHERE t.pubname = 'firstsight_facts' ORDER BY 1;
-- calling it again changes nothing
SELECT count(*) FROM create_facts_publication();

-- once the database publishes, a project needs the id headquarters gave it
SELECT create_project('No id', dims => 4);
SELECT create_project('Bad id', dims => 4, project_id => 0);
SELECT create_project('Office 7', dims => 4, project_id => 7000001) AS p \gset
SELECT project_id, name FROM project WHERE project_id = :p;
SELECT create_project('Office 7 again', dims => 4, project_id => 7000001);

-- the group key comes from a file on the server, nowhere else
SELECT group_key_fingerprint() IS NULL AS no_key_yet;
SELECT install_group_key('no/such/file.key');
SELECT install_group_key('postgresql.conf');
SELECT has_function_privilege('public', 'firstsight.install_group_key(text)', 'EXECUTE') AS public_may_install,
       has_table_privilege('public', 'firstsight.group_key', 'SELECT') AS public_may_read;

-- the group views exist and hold no rows for projects without facts
SELECT count(*) FROM group_traffic WHERE group_name = 'none';
SELECT count(*) FROM group_flagged_deals WHERE project_id = :p;
SELECT count(*) FROM group_cross_office_buyers;
SELECT count(*) FROM group_replication;
SELECT count(*) FROM facts_replication;

-- without the publication, ids are drawn as before
DROP PUBLICATION firstsight_facts;
SELECT create_project('Drawn id', dims => 4) > 0 AS drawn;
