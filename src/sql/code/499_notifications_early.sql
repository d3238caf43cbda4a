-- Notifications (issue 7): webhook endpoints, a transactional outbox, per-webhook
-- delivery state and the view operators read.  The background worker
-- (src/worker) delivers; see src/worker/README.md.  Payloads never carry
-- biometric data: emit_event refuses anything that looks like a face,
-- an embedding or a photo.
-- (functions the state of 500_notifications.sql needs; created before it)

-- the event names of the public contract
CREATE OR REPLACE FUNCTION event_names() RETURNS text[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT ARRAY['visitor.new', 'visitor.returned', 'deal.attributed', 'deal.flagged', 'retention.completed']::pg_catalog.text[] $$;
