-- Inventory items the demo gateway would serve. Every change to an item is
-- meant to leave a row in audit_log (trigger below).
CREATE TABLE items (
    id         bigserial   PRIMARY KEY,
    sku        text        NOT NULL UNIQUE,
    name       text        NOT NULL,
    quantity   integer     NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION items_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (actor, action, subject, detail)
    VALUES (current_user, 'items.' || lower(TG_OP), NEW.sku,
            jsonb_build_object('name', NEW.name, 'quantity', NEW.quantity));
    RETURN NEW;
END
$$;

CREATE TRIGGER items_audit_trg
    AFTER INSERT OR UPDATE ON items
    FOR EACH ROW EXECUTE FUNCTION items_audit();
