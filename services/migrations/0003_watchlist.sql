-- A bank's watch list (DESIGN §6): the codes of its loan book, pushed each change of their
-- status. The primary key serves a bank's own list in code order (keyset pagination).
CREATE TABLE watchlist (
    bank_id  text        NOT NULL,
    uscc     text        NOT NULL CHECK (char_length(uscc) = 18),
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bank_id, uscc)
);

-- Which banks watch the codes of a batch of changes.
CREATE INDEX watchlist_by_uscc ON watchlist (uscc, bank_id);

CREATE FUNCTION blacklist_change_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jointcase_change', '');
    RETURN NULL;
END;
$$;

-- Notifications are delivered when the inserting transaction commits, and identical ones of
-- one transaction are folded into one: listeners wake once per committed batch of changes and
-- read the rows themselves (the change feed cursor tells them where they left off).
CREATE TRIGGER blacklist_change_wakes_listeners
    AFTER INSERT ON blacklist_change
    FOR EACH STATEMENT EXECUTE FUNCTION blacklist_change_notify();
