/**
 * 12345 intake from the shell (against DATABASE_URL, or the embedded default's PGlite
 * directory in HUIYING_PGLITE_DIR):
 *
 *   pnpm --silent tickets:import --source NAME [--backfill] FILE.csv|FILE.xlsx
 *       imports an export; each refused row on stderr as `FILE:ROW: 列「COLUMN」: reason`,
 *       then a one-line JSON summary on stdout. Exit 0: every row stored (or stored before);
 *       1: some rows refused (the others are stored); 2: nothing could be done.
 *   pnpm --silent hotline:add --name NAME [--jurisdiction J]
 *       adds a hotline source (its tickets in jurisdiction J, default `default`); prints its HMAC
 *       secret as the last line (shown once)
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig, Type } from '@huiying/config';
import { cliDbConfig, openCliDb } from '@huiying/db/cli-db';
import { createHotlineSource, findHotlineSource, HotlineSourceError } from './hotline-auth.ts';
import { signalKeyOf } from './signal-key.ts';
import { ImportFileError, importTicketFile } from './tickets-import.ts';
import { ticketConfig, ticketPolicyOf } from './tickets.ts';

const [command, ...rest] = process.argv.slice(2).filter((a) => a !== '--');
const fail = (message: string, code = 2): never => {
  console.error(`${command ?? 'tickets'}: ${message}`);
  process.exit(code);
};

const config = loadConfig(Type.Object({ ...cliDbConfig, ...ticketConfig }));
const open = () => openCliDb(config, fail);

const actor = `cli:${process.env.USER ?? 'unknown'}`;

if (command === 'tickets:import') {
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { source: { type: 'string' }, backfill: { type: 'boolean', default: false } },
  });
  if (!values.source) fail('--source NAME is required (a hotline source; add one with hotline:add)');
  const path = positionals[0];
  if (!path || positionals.length > 1) fail('give exactly one file: tickets:import --source NAME FILE.csv|FILE.xlsx');
  let bytes: Buffer;
  try {
    bytes = await readFile(path!);
  } catch (error) {
    fail(`${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  const handle = await open();
  try {
    const source = await findHotlineSource(handle.db, values.source!);
    if (!source) fail(`unknown hotline source ${values.source}`);
    if (!source!.active) fail(`hotline source ${values.source} is disabled`);
    const report = await importTicketFile(handle.db, bytes!, {
      origin: { source: { id: source!.id, name: source!.name }, actor, signalKey: await signalKeyOf(handle.db, actor) },
      now: new Date(),
      backfill: values.backfill === true,
      policy: ticketPolicyOf(config),
    });
    for (const e of report.errors) console.error(`${path}:${e.row}: ${e.column ? `列「${e.column}」: ` : ''}${e.reason}`);
    const { errors, ...summary } = report;
    console.log(JSON.stringify({ file: path, ...summary, refused: errors.length }));
    process.exitCode = errors.length > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof ImportFileError) fail(`${path}:${error.row}: ${error.message}`);
    throw error;
  } finally {
    await handle.close();
  }
} else if (command === 'hotline:add') {
  const { values } = parseArgs({ args: rest, options: { name: { type: 'string' }, jurisdiction: { type: 'string' } } });
  if (!values.name) fail('--name is required');
  const handle = await open();
  try {
    const source = await createHotlineSource(
      handle.db,
      { name: values.name!, ...(values.jurisdiction ? { jurisdiction: values.jurisdiction } : {}) },
      actor,
      new Date(),
    );
    console.error(
      `hotline source ${source.name} (jurisdiction ${source.jurisdiction}) created: ${source.id} — its secret is shown once, store it now`,
    );
    console.log(source.secret);
  } catch (error) {
    if (error instanceof HotlineSourceError) fail(error.message);
    throw error;
  } finally {
    await handle.close();
  }
} else {
  fail('usage: tickets:import --source NAME [--backfill] FILE | hotline:add --name NAME [--jurisdiction J]');
}
