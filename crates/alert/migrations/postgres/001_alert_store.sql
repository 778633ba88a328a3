-- The alert store in PostgreSQL: the same tables and keys as the SQLite risk index
-- (crates/alert/src/sqlite.rs), so alert identity and deduplication are the same: a UNIQUE
-- event_hash, inserted with ON CONFLICT DO NOTHING.
CREATE TABLE risk_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_hash TEXT NOT NULL UNIQUE,
    time BIGINT NOT NULL,                  -- microseconds since the epoch, UTC
    search_name TEXT NOT NULL,
    detection_id TEXT NOT NULL,
    risk_object TEXT NOT NULL,
    normalized_risk_object TEXT NOT NULL,
    risk_object_type TEXT NOT NULL,
    risk_score DOUBLE PRECISION NOT NULL,
    risk_message TEXT NOT NULL,
    techniques TEXT NOT NULL,              -- ';'-separated
    tactics TEXT NOT NULL,                 -- ';'-separated
    json TEXT NOT NULL                     -- the alert as vigil serialised it (text, not jsonb: kept byte for byte)
);
CREATE INDEX risk_events_time ON risk_events(time);
CREATE INDEX risk_events_object ON risk_events(normalized_risk_object, risk_object_type, time);

CREATE TABLE notables (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_hash TEXT NOT NULL UNIQUE,
    time BIGINT NOT NULL,
    search_name TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    rule_title TEXT NOT NULL,
    severity TEXT NOT NULL,
    risk_object TEXT,                      -- set on risk incident notables
    risk_object_type TEXT,
    json TEXT NOT NULL
);
CREATE INDEX notables_time ON notables(time);
CREATE INDEX notables_incident ON notables(rule_name, risk_object, risk_object_type, time);

-- Triage (crates/alert/src/review.rs).
CREATE TABLE notable_review (
    event_hash TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    owner TEXT NOT NULL,
    urgency TEXT,                          -- NULL: the urgency the notable was raised with
    updated BIGINT NOT NULL                -- microseconds since the epoch
);
CREATE TABLE notable_audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_hash TEXT NOT NULL,
    time BIGINT NOT NULL,
    "user" TEXT NOT NULL,
    field TEXT NOT NULL,                   -- status, owner, urgency or comment
    old_value TEXT,
    new_value TEXT
);
CREATE INDEX notable_audit_hash ON notable_audit(event_hash, id);
