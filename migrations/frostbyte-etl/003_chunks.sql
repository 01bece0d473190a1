-- Text chunks of each document and the Qdrant point that holds its vector,
-- so that a vector hit can be traced back to its document and offsets.
CREATE TABLE document_chunks (
    document_id   uuid        NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    chunk_index   integer     NOT NULL CHECK (chunk_index >= 0),
    char_start    integer     NOT NULL,
    char_end      integer     NOT NULL CHECK (char_end >= char_start),
    qdrant_point  uuid        NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (document_id, chunk_index)
);

INSERT INTO audit_log (actor, action, subject, detail)
VALUES ('installer', 'schema.created', 'frostbyte-etl',
        '{"tables": ["audit_log", "documents", "ingestion_jobs", "document_chunks"]}');
