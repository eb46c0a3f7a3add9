-- Read models: pure functions of each enterprise's events, rewritten whole on every recompute.

-- The joint case file (联合调查案卷), with the columns the task force filters on.
CREATE TABLE case_file (
    uscc             text        PRIMARY KEY,
    name             text,
    region           text        NOT NULL,  -- 6-digit administrative code
    industry         text,
    credit_status    text        NOT NULL,
    max_severity     text,                  -- highest severity of an open finding
    open_dimensions  text[]      NOT NULL,
    agencies         text[]      NOT NULL,
    case_state       text,
    event_count      integer     NOT NULL,
    last_recorded_at timestamptz,
    body             jsonb       NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX case_file_by_region ON case_file (region text_pattern_ops);
CREATE INDEX case_file_by_status ON case_file (credit_status);

-- The bank-facing status (信用状态): no investigation details in here.
CREATE TABLE blacklist_status (
    uscc                text        PRIMARY KEY,
    status              text        NOT NULL,
    since               timestamptz,
    publication_ends_at timestamptz,
    next_change_at      timestamptz,  -- re-evaluate then, even if no event arrives
    evaluated_at        timestamptz NOT NULL,
    body                jsonb       NOT NULL,
    data_version        bigint      NOT NULL DEFAULT 0  -- change-feed cursor it reflects
);

CREATE INDEX blacklist_status_due ON blacklist_status (next_change_at)
    WHERE next_change_at IS NOT NULL;

-- The change feed: one row per status change. Rows are inserted under a transaction-level
-- advisory lock held to commit, so cursors become visible in order and a reader paging with
-- `cursor > after` never skips a row that commits later with a smaller cursor.
CREATE TABLE blacklist_change (
    cursor          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uscc            text        NOT NULL,
    previous_status text        NOT NULL,
    status          text        NOT NULL,
    effective_at    timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    summary         jsonb       NOT NULL
);

CREATE INDEX blacklist_change_by_uscc ON blacklist_change (uscc, cursor);
