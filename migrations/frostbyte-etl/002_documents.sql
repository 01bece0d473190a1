-- Documents taken in by intake-gateway, stored in MinIO (object_key), and
-- the ingestion jobs celery-worker runs for them.
CREATE TABLE documents (
    id            uuid        PRIMARY KEY,
    object_key    text        NOT NULL UNIQUE,
    filename      text        NOT NULL,
    content_type  text        NOT NULL,
    size_bytes    bigint      NOT NULL CHECK (size_bytes >= 0),
    sha256        char(64)    NOT NULL,
    scan_status   text        NOT NULL DEFAULT 'pending'
                  CHECK (scan_status IN ('pending', 'clean', 'infected', 'error')),
    scan_detail   text,
    uploaded_by   text        NOT NULL,
    uploaded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_sha256_idx ON documents (sha256);

CREATE TABLE ingestion_jobs (
    id            bigserial   PRIMARY KEY,
    document_id   uuid        NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    status        text        NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts      integer     NOT NULL DEFAULT 0,
    chunks        integer,
    embedding_model text,
    error         text,
    queued_at     timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX ingestion_jobs_status_idx ON ingestion_jobs (status, queued_at);
