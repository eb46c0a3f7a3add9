-- Every bank query, for supervision (DESIGN §6): who asked, when, about which codes, what was
-- answered, and which data version the answer reflected. Readable by admin only.
CREATE TABLE bank_query_audit (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bank_id      text        NOT NULL,
    asked_at     timestamptz NOT NULL DEFAULT now(),
    route        text        NOT NULL,
    codes        text[]      NOT NULL,
    answers      text[]      NOT NULL,  -- the status answered for each code, in order
    data_version bigint      NOT NULL
);

CREATE INDEX bank_query_audit_by_bank ON bank_query_audit (bank_id, id);
