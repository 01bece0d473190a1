-- A few fixed rows so that a fresh install has something to export.
INSERT INTO audit_log (actor, action, subject, detail)
VALUES ('installer', 'schema.created', 'demo', '{"tables": ["audit_log", "items"]}');

INSERT INTO items (sku, name, quantity) VALUES
    ('FB-0001', 'frost sensor', 12),
    ('FB-0002', 'cold-chain logger', 5),
    ('FB-0003', 'ice core sample kit', 0);
