/**
 * The database schema, one module per area under schema/ (drizzle.config.ts points drizzle-kit
 * here; everything else imports it through this file or the package's index).
 */
export * from './schema/identity.ts';
export * from './schema/intake.ts';
export * from './schema/incidents.ts';
export * from './schema/notifications.ts';
export * from './schema/audit.ts';
export * from './schema/stats.ts';
export * from './schema/evidence.ts';
export * from './schema/settings.ts';
