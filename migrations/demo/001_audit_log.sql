-- Audit trail of what happened to the demo stack's data. Exported as
-- data/audit.csv by `frostbyte-bundle export`.
-- Runs inside one transaction (the installer uses psql -1): no BEGIN/COMMIT,
-- no CREATE INDEX CONCURRENTLY.
CREATE TABLE audit_log (
    id      bigserial   PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text        NOT NULL,
    action  text        NOT NULL,
    subject text,
    detail  jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_action_idx ON audit_log (action);
