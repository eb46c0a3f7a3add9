-- The event store of record: append-only, one row per event, unique event_id.
CREATE TABLE event_store (
    position       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       uuid        NOT NULL UNIQUE,
    event_type     text        NOT NULL,
    schema_version integer     NOT NULL,
    stream         text        NOT NULL,
    enterprise     text        NOT NULL CHECK (char_length(enterprise) = 18),
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    stored_at      timestamptz NOT NULL DEFAULT now(),
    body           jsonb       NOT NULL
);

CREATE INDEX event_store_by_enterprise ON event_store (enterprise, recorded_at);

CREATE FUNCTION event_store_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'event_store is append-only: % is not allowed', TG_OP;
END;
$$;

CREATE TRIGGER event_store_no_update_or_delete
    BEFORE UPDATE OR DELETE ON event_store
    FOR EACH ROW EXECUTE FUNCTION event_store_is_append_only();

CREATE TRIGGER event_store_no_truncate
    BEFORE TRUNCATE ON event_store
    FOR EACH STATEMENT EXECUTE FUNCTION event_store_is_append_only();

-- Transactional outbox: events accepted by the HTTP gateway wait here until the relay has
-- published them to Kafka. Rows are deleted once published (the event itself stays).
CREATE TABLE outbox (
    position bigint PRIMARY KEY REFERENCES event_store (position)
);

CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jointcase_outbox', '');
    RETURN NULL;
END;
$$;

-- Wakes the relay when the inserting transaction commits.
CREATE TRIGGER outbox_wakes_relay
    AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Bearer tokens: only a hash of the secret is kept.
CREATE TABLE api_token (
    token_id    text        PRIMARY KEY,
    role        text        NOT NULL,
    secret_hash bytea       NOT NULL,
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
