-- Leaders' statistics (services/api/src/stats): indexes for the period, the breach attribution
-- and the missed-deadline scans. Clocks by due already exist (clocks_due_idx).
-- The late, breached and running clocks: a small part of the table, read by the overdue figures
-- and the drill-down without scanning the on-time majority.
CREATE INDEX "clocks_missed_due_idx" ON "clocks" USING btree ("due_at") WHERE (state = 'met' AND late) OR state IN ('breached', 'running');--> statement-breakpoint
-- A clock's breach alert (the unit responsible when it happened, whether it was retracted).
CREATE INDEX "alerts_breach_clock_idx" ON "alerts" USING btree ("incident_id", "clock", "due_at") WHERE kind = 'breached';--> statement-breakpoint
-- Retracted breaches, looked up for on-time clocks (few rows: the index stays tiny).
CREATE INDEX "alerts_retracted_breach_idx" ON "alerts" USING btree ("incident_id", "clock", "due_at") WHERE kind = 'breached' AND retracted_at IS NOT NULL;--> statement-breakpoint
CREATE INDEX "alerts_breach_obligation_idx" ON "alerts" USING btree ("obligation_id") WHERE kind = 'breached' AND obligation_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX "obligations_due_idx" ON "obligations" USING btree ("due_at");
