/**
 * The rule pack holder on the real PostgreSQL: without LISTEN it still takes an activation at
 * its periodic re-read; a version that no longer parses leaves the last good pack in force; with
 * no active version it is the file's pack (or the default) again.
 */
import { activateRulePack, rulePacks, sql, storeRulePack } from '@huiying/db';
import { parseRulePack } from '@huiying/domain';
import { eventually, freshDatabase } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RulePackHolder } from '../src/rule-pack-holder.ts';

const HOUR = 3_600_000;
const FILE_PACK = parseRulePack({ name: '文件', clocks: { release: { spanHours: 4 } } });
let db: Awaited<ReturnType<typeof freshDatabase>>;
let holder: RulePackHolder;
const warnings: string[] = [];

beforeAll(async () => {
  db = await freshDatabase();
  // No LISTEN: only the periodic re-read (here every 50 ms of real time) brings changes.
  holder = new RulePackHolder({
    db: db.db,
    fallback: { pack: FILE_PACK, source: 'file' },
    logger: { warn: (_o, msg) => void warnings.push(msg) },
    resyncMs: 50,
  });
  await holder.start();
});
afterAll(async () => {
  await holder?.stop();
  await db?.drop();
});

it('starts on the file pack, then takes an activation at its periodic re-read without LISTEN', async () => {
  expect(holder.info()).toMatchObject({ source: 'file', version: null });
  expect(holder.current().clocks.release.spanMs).toBe(4 * HOUR);
  await db.db.transaction((tx) =>
    storeRulePack(tx, { document: { name: '库', clocks: { release: { spanHours: 3 } } }, note: null, by: 'user:admin', at: new Date() }),
  );
  await eventually(async () => holder.info().version === 1, 'the periodic re-read', 5_000);
  expect(holder.info()).toMatchObject({ source: 'database', activatedBy: 'user:admin' });
  expect(holder.current().clocks.release.spanMs).toBe(3 * HOUR);
});

it('keeps the last good pack when the active version no longer parses, and falls back to the file when none is active', async () => {
  await db.db.insert(rulePacks).values({ version: 2, document: { clocks: { nope: {} } }, createdBy: 'psql', createdAt: new Date() });
  await db.db.transaction((tx) => activateRulePack(tx, 2, 'psql', new Date()));
  await eventually(async () => warnings.some((w) => w.includes('keeping the pack in force')), 'the refused re-read', 5_000);
  expect(holder.info().version).toBe(1);
  expect(holder.current().clocks.release.spanMs).toBe(3 * HOUR);

  await db.db.execute(sql`update rule_packs set active = false`);
  await eventually(async () => holder.info().source === 'file', 'the fallback to the file', 5_000);
  expect(holder.current().clocks.release.spanMs).toBe(4 * HOUR);
});
