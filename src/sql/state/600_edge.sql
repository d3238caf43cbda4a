-- Edge offices and headquarters (docs/scale-out.md): each office publishes its
-- non-biometric facts (create_facts_publication), headquarters subscribes to
-- every office.  Identity hashes that headquarters compares across offices are
-- keyed with the group key: one key shared by the offices of a group, installed
-- at each office by its owner (install_group_key), never published.

-- the group's key for identity hashes that must match across offices; owner
-- only, and not registered with pg_extension_config_dump: pg_dump never writes
-- it out (after a restore the owner installs it again from the key file)
CREATE TABLE group_key (
	key_id integer NOT NULL PRIMARY KEY CHECK (key_id = 1),
	secret bytea NOT NULL CHECK (octet_length(secret) >= 32),
	installed_at timestamptz NOT NULL DEFAULT now(),
	installed_by name NOT NULL DEFAULT session_user
);

-- the ID-card hash under the group key (NULL while the office has no group key);
-- id_card_hash stays under the office's own key
ALTER TABLE identity ADD COLUMN group_id_card_hash bytea;
CREATE INDEX identity_group_id_card ON identity (group_id_card_hash) WHERE group_id_card_hash IS NOT NULL;
