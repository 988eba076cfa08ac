-- Each probe's up/down history as changes of state with exact times: the
-- raw material for availability per the EVB-IT formula. `state` is 1 (up),
-- 0 (down) or NULL (unknown: the probe was not running, e.g. while no
-- Leitstand instance was).
CREATE TABLE probe_transitions (
    probe    TEXT    NOT NULL,
    at       BIGINT  NOT NULL,
    state    SMALLINT,
    message  TEXT    NOT NULL,
    PRIMARY KEY (probe, at)
);
