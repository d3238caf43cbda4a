-- Notifications (issue 7): webhook endpoints, a transactional outbox, per-webhook
-- delivery state and the view operators read.  The background worker
-- (src/worker) delivers; see src/worker/README.md.  Payloads never carry
-- biometric data: emit_event refuses anything that looks like a face,
-- an embedding or a photo.

CREATE SEQUENCE webhook_id_seq;
CREATE TABLE webhook (
	project_id bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	webhook_id bigint NOT NULL DEFAULT nextval('webhook_id_seq'),
	url text NOT NULL,
	secret text NOT NULL DEFAULT encode(random_bytes(32), 'hex'),
	events text[] NOT NULL DEFAULT event_names(),
	enabled boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id, webhook_id)
);
ALTER SEQUENCE webhook_id_seq OWNED BY webhook.webhook_id;
SELECT pg_catalog.pg_extension_config_dump('webhook', '');
SELECT pg_catalog.pg_extension_config_dump('webhook_id_seq', '');

-- the outbox: one row per event, written in the emitting transaction
CREATE SEQUENCE outbox_event_id_seq;
CREATE TABLE outbox (
	project_id bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	event_id bigint NOT NULL DEFAULT nextval('outbox_event_id_seq'),
	event text NOT NULL,
	subject text NOT NULL,
	payload jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (project_id, event_id)
);
ALTER SEQUENCE outbox_event_id_seq OWNED BY outbox.event_id;
SELECT pg_catalog.pg_extension_config_dump('outbox', '');
SELECT pg_catalog.pg_extension_config_dump('outbox_event_id_seq', '');

-- what the worker has done for each (event, webhook): made by emit_event for the
-- enabled webhooks subscribed to the event
CREATE TABLE outbox_delivery (
	project_id bigint NOT NULL,
	event_id bigint NOT NULL,
	webhook_id bigint NOT NULL,
	subject text NOT NULL,
	attempts integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	last_attempt_at timestamptz,
	last_status integer,
	last_error text,
	delivered_at timestamptz,
	dead boolean NOT NULL DEFAULT false,
	refused boolean NOT NULL DEFAULT false,
	PRIMARY KEY (project_id, event_id, webhook_id),
	FOREIGN KEY (project_id, event_id) REFERENCES outbox ON DELETE CASCADE,
	FOREIGN KEY (project_id, webhook_id) REFERENCES webhook ON DELETE CASCADE
);
-- the worker's queue: each webhook's pending deliveries in event order.  The worker
-- reads the oldest 1024 or more of each enabled webhook (an ordered scan of this
-- index that stops there) and keeps the head of each subject among them; see
-- src/worker/README.md.  (Indexes that served a per-row "is there an earlier
-- pending delivery of this subject" check were dropped with that check: with the
-- stale statistics a queue table always has, the planner turned it into a
-- rescan of the queue per candidate.)
CREATE INDEX outbox_delivery_queue ON outbox_delivery (project_id, webhook_id, event_id)
	WHERE delivered_at IS NULL AND NOT dead;
SELECT pg_catalog.pg_extension_config_dump('outbox_delivery', '');
