-- The timer's queue (services/engine/src/queue-vacuum.ts): every fired wake moves its row to a later
-- instant and leaves a dead entry at the head of the index the claim and the re-arm start from.
-- With the default settings autovacuum takes the table only after a fifth of it changed (200 000
-- fired wakes with a million open incidents), and the scans walk those entries meanwhile. Vacuum it
-- after 5 000 changed rows instead. The engine vacuums the queue itself when its role owns the
-- table (and so also where autovacuum is off); a service login that only belongs to huiying_app
-- relies on this.
ALTER TABLE "incident_wakes" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
