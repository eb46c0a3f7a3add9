-- Figures of each case file that regional roll-ups and alerts aggregate (without reading JSON).
ALTER TABLE case_file
    ADD COLUMN targets               integer NOT NULL DEFAULT 0,
    ADD COLUMN targets_missed        integer NOT NULL DEFAULT 0,
    ADD COLUMN reduction_tonnes      double precision NOT NULL DEFAULT 0,
    ADD COLUMN reduction_done_tonnes double precision NOT NULL DEFAULT 0,
    ADD COLUMN tipoffs_open          integer NOT NULL DEFAULT 0,
    ADD COLUMN tipoffs_overdue       integer NOT NULL DEFAULT 0,
    ADD COLUMN tipoffs_reward        integer NOT NULL DEFAULT 0;
