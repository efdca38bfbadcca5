/**
 * `pnpm --silent feed-check <url-or-file> [--added ISO] [--content-type TYPE]`
 *
 * Fetches (or reads) one feed exactly as the poller would — same address policy, limits,
 * decoding, parsing and time decisions — and prints each normalised item as one JSON line on
 * stdout, then a one-line summary on stderr. A feed that cannot be used prints no items, one
 * line saying why, and exits 1. Without --added the feed is judged as if added now (its first
 * poll: what is already in it is history).
 */
import { readFile, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig, Type } from '@huiying/config';
import { DEFAULT_SIGNAL_TIME_POLICY } from '@huiying/domain/signal-time';
import { FeedParseError } from './feed/parse.ts';
import { oneLine } from './feed/one-line.ts';
import { DEFAULT_MAX_ITEMS_PER_POLL, readFeed } from './feed/read.ts';
import { AddressPolicy, DEFAULT_FETCH_POLICY, type FetchPolicy, safeFetch } from './fetch/index.ts';

const USAGE = 'usage: feed-check <url-or-file> [--added 2026-11-01T00:00:00+08:00] [--content-type "text/xml; charset=gbk"]';

function fail(reason: string, code = 1): never {
  process.stderr.write(`feed-check: ${reason}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2).filter((a) => a !== '--'),
      allowPositionals: true,
      options: { added: { type: 'string' }, 'content-type': { type: 'string' } },
    });
  } catch (error) {
    fail(`${oneLine(error)}\n${USAGE}`, 2);
  }
  const target = parsed.positionals[0];
  if (!target || parsed.positionals.length > 1) fail(USAGE, 2);

  let config;
  try {
    config = loadConfig(
      Type.Object({
        FEED_ALLOW_CIDRS: Type.String({ default: '' }),
        FEED_MAX_BYTES: Type.Integer({ default: DEFAULT_FETCH_POLICY.maxBytes, minimum: 1024 }),
        FEED_MAX_ITEMS: Type.Integer({ default: DEFAULT_MAX_ITEMS_PER_POLL, minimum: 1 }),
        FEED_BACKFILL_HOURS: Type.Number({ default: DEFAULT_SIGNAL_TIME_POLICY.backfillWindowMs / 3_600_000, minimum: 0 }),
      }),
    );
  } catch (error) {
    fail(oneLine(error), 2);
  }
  let addresses: AddressPolicy;
  try {
    addresses = AddressPolicy.fromList(config.FEED_ALLOW_CIDRS);
  } catch (error) {
    fail(`FEED_ALLOW_CIDRS: ${oneLine(error)}`, 2);
  }
  // Interactive: one retry at most, so a dead host answers within seconds.
  const policy: FetchPolicy = {
    ...DEFAULT_FETCH_POLICY,
    addresses,
    maxBytes: config.FEED_MAX_BYTES,
    retries: 1,
    backoffMs: 500,
    totalTimeoutMs: 15_000,
  };

  const now = Date.now();
  const added = parsed.values.added === undefined ? now : Date.parse(parsed.values.added);
  if (!Number.isFinite(added)) fail(`--added is not a date: ${parsed.values.added}`, 2);

  const isUrl = /^https?:\/\//i.test(target);
  let body: Uint8Array;
  let contentType: string | null = parsed.values['content-type'] ?? null;
  let feedUrl: string;
  try {
    if (isUrl) {
      const res = await safeFetch({ url: target }, policy);
      body = res.body;
      contentType ??= typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : null;
      feedUrl = res.url;
    } else {
      const info = await stat(target);
      if (!info.isFile()) fail(`not a file: ${target}`);
      if (info.size > policy.maxBytes) fail(`refused: file of ${info.size} bytes exceeds the limit of ${policy.maxBytes}`);
      body = await readFile(target);
      feedUrl = new URL(`file://${target.startsWith('/') ? '' : `${process.cwd()}/`}${target}`).href;
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    fail(code === 'ENOENT' ? `no such file: ${target}` : `refused: ${oneLine(error)}`);
  }

  let read;
  try {
    read = await readFeed(body, contentType, {
      feedId: 'feed-check',
      feedUrl,
      fetchedAt: now,
      feedAddedAt: added,
      firstPoll: parsed.values.added === undefined,
      maxItems: config.FEED_MAX_ITEMS,
      timePolicy: { ...DEFAULT_SIGNAL_TIME_POLICY, backfillWindowMs: config.FEED_BACKFILL_HOURS * 3_600_000 },
    });
  } catch (error) {
    fail(error instanceof FeedParseError ? `unusable feed: ${error.message}` : `unusable feed: ${oneLine(error)}`);
  }
  const lines = read.items.map((item) =>
    JSON.stringify({
      title: item.title,
      link: item.link ?? null,
      guid: item.guid ?? null,
      publishedAt: item.publishedAt !== undefined && Number.isFinite(item.publishedAt) ? new Date(item.publishedAt).toISOString() : null,
      signalTime: new Date(item.time.at).toISOString(),
      timeDecision: item.time.decision,
      timeReason: item.time.reason,
      signalKey: item.signalKey,
    }),
  );
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  const warnings = read.warnings.length > 0 ? ` warnings=${read.warnings.length} (${read.warnings.join('; ')})` : '';
  process.stderr.write(
    `feed-check: encoding=${read.encoding} format=${read.format} parser=${read.parser} items=${read.items.length}${read.skipped > 0 ? ` skipped=${read.skipped}` : ''} errors=0${warnings}\n`,
  );
}

main().catch((error: unknown) => fail(`failed: ${oneLine(error)}`));
