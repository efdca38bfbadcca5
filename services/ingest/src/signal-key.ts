/**
 * The signal id of a 12345 ticket. A ticket id that holds personal data — some hotline systems
 * number tickets after the caller's phone — is masked wherever it travels (tickets.ts
 * travellingRef), but a signal id that is a plain hash of it could be reversed by hashing every
 * phone number, and the signal id travels on the bus, in logs and in the audit trail. Such a
 * ticket's id is therefore keyed (HMAC-SHA-256) with the deployment's own `signal_id` key, made on
 * first use and kept in `deployment_keys` (0041). A ticket id without personal data keeps the plain
 * id (signals.ts signalId), as feed items do. Either way one ticket always maps to one signal in a
 * deployment: sent again, it is a duplicate.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { type Db, rowsOf, sql } from '@huiying/db';
import { maskPersonalField } from '@huiying/domain/personal-data';
import { signalId } from './signals.ts';

const NAME = 'signal_id';

/**
 * The deployment's signal-id key: made (32 random bytes, audited without the key) by the first
 * process to ask, read by every other. Concurrent first asks agree: one insert wins, the others
 * read it.
 */
export async function loadSignalKey(db: Db, actor = 'system:ingest', now = new Date()): Promise<string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const [row] = rowsOf<{ key: string }>(
      await db.execute(sql`
        with made as (
          insert into deployment_keys (name, key, created_at)
          values (${NAME}, ${randomBytes(32).toString('hex')}, ${now.toISOString()}::timestamptz)
          on conflict (name) do nothing
          returning key
        ),
        aud as (
          insert into audit_log (at, actor, action, entity, entity_id, input)
          select ${now.toISOString()}::timestamptz, ${actor}::text, 'deployment_key.created', 'deployment_key', ${NAME}::text,
            jsonb_build_object('purpose', 'keys the signal id of a hotline ticket whose id holds personal data')
          from made
        )
        select key from made
        union all
        select key from deployment_keys where name = ${NAME}`),
    );
    // Another process inserting at the same moment: its row is visible to the next statement.
    if (row) return row.key;
  }
  throw new Error('deployment key signal_id could not be made or read');
}

const memo = new WeakMap<Db, Promise<string>>();

/** loadSignalKey, asked once per database handle (the key never changes once made). */
export function signalKeyOf(db: Db, actor?: string): Promise<string> {
  let key = memo.get(db);
  if (!key) {
    key = loadSignalKey(db, actor);
    key.catch(() => memo.delete(db));
    memo.set(db, key);
  }
  return key;
}

/** The signal id of the ticket with this reference (tickets.ts ticketRef) in the deployment with this key. */
export function hotlineSignalId(ref: string, key: string): string {
  if (maskPersonalField(ref) === ref) return signalId('hotline', ref);
  return `sig_${createHmac('sha256', key).update(`hotline\u0000${ref}`).digest('hex').slice(0, 24)}`;
}
