import { TOPICS, type SignalMessage } from '@huiying/bus';
import { audit, type Db, enqueue, feeds, officialItems, signalSources, signals, sql } from '@huiying/db';
import { classifyOrigin } from '@huiying/domain';
import { maskPersonalData } from '@huiying/domain/personal-data';
import type { NormalisedItem } from './feed/normalise.ts';
import { signalId } from './signals.ts';

/**
 * What storing one feed item did: a new signal that may open a clock (`accepted`), a new
 * signal kept as history (`history`), a second source for a signal another feed brought
 * (`source_added`), or nothing because this feed's item was stored before (`seen`).
 */
export type StoreOutcome = 'accepted' | 'history' | 'source_added' | 'seen' | 'official';

/** The feed is a unit's official channel: its items are that unit's publications, not signals of a matter. */
export interface OfficialChannel {
  unitId: string | null;
}

/**
 * The cross-feed identity of an item within a jurisdiction. A signal belongs to one jurisdiction
 * (its rules, its grouping, its incidents, its units), so an item seen by feeds of two
 * jurisdictions is one signal in each: both desks see it and neither's clocks depend on the
 * other's. Within a jurisdiction, one item in two feeds stays one signal with two sources. The
 * default jurisdiction keeps the bare key (the ids signals had before jurisdictions existed).
 */
export const jurisdictionSignalKey = (jurisdiction: string, signalKey: string): string =>
  jurisdiction === 'default' ? signalKey : `j:${jurisdiction}|${signalKey}`;

/**
 * Store one feed item in its own transaction: dedup (this feed's item key first, then the
 * cross-feed signal key within the feed's jurisdiction), the time decision on the signal, and —
 * only for signals that are not history — the bus message through the outbox. A history signal is
 * marked processed, so the engine's sweep leaves it alone: it opens no incident and no clock.
 */
export async function storeFeedItem(
  db: Db,
  feed: { id: string; jurisdiction: string },
  item: NormalisedItem,
  now: Date,
  official?: OfficialChannel,
): Promise<{ signalId: string; outcome: StoreOutcome }> {
  const feedId = feed.id;
  const jurisdiction = feed.jurisdiction;
  const sourceRef = jurisdictionSignalKey(jurisdiction, item.signalKey);
  const id = signalId('feed', sourceRef);
  const title = storedTitle(item.title);
  return db.transaction(async (tx) => {
    // The (feed, item) primary key serialises concurrent pollers of one item: only one inserts.
    const source = await tx
      .insert(signalSources)
      .values({
        feedId,
        itemKey: item.itemKey,
        signalId: id,
        guid: item.guid ?? null,
        link: item.link ?? null,
        contentHash: item.contentHash,
        firstSeenAt: now,
      })
      .onConflictDoNothing()
      .returning({ signalId: signalSources.signalId });
    if (source.length === 0) return { signalId: id, outcome: 'seen' as const };
    if (official) return storeOfficialItem(tx, { id: feedId, jurisdiction, sourceRef }, id, { ...item, title }, now, official);

    const history = item.time.decision === 'history';
    const at = new Date(item.time.at).toISOString();
    const inserted = await tx
      .insert(signals)
      .values({
        id,
        source: 'feed',
        sourceRef,
        feedId,
        title,
        content: item.content ?? null,
        url: item.link ?? null,
        publishedAt: new Date(item.time.at),
        receivedAt: now,
        timeDecision: item.time.decision,
        timeReason: item.time.reason,
        processedAt: history ? now : null,
        jurisdiction,
      })
      .onConflictDoNothing()
      .returning({ id: signals.id });
    const decision = {
      decision: item.time.decision,
      reason: item.time.reason,
      at,
      ...(item.publishedAt !== undefined ? { itemPublishedAt: safeIso(item.publishedAt) } : {}),
    };
    if (inserted.length === 0) {
      await audit(tx, {
        at: now,
        actor: `feed:${feedId}`,
        action: 'signal.source_added',
        entity: 'signal',
        entityId: id,
        input: { feedId, itemKey: item.itemKey, jurisdiction },
      });
      return { signalId: id, outcome: 'source_added' as const };
    }
    if (history) {
      await audit(tx, {
        at: now,
        actor: `feed:${feedId}`,
        action: 'signal.stored_as_history',
        entity: 'signal',
        entityId: id,
        input: { feedId, title, url: item.link ?? null },
        result: decision,
      });
      return { signalId: id, outcome: 'history' as const };
    }
    const message: SignalMessage = {
      v: 1,
      type: 'signal',
      id,
      source: 'feed',
      sourceRef,
      feedId,
      publishedAt: at,
      receivedAt: now.toISOString(),
    };
    await enqueue(tx, now, [{ topic: TOPICS.signals, key: id, payload: message }]);
    await audit(tx, {
      at: now,
      actor: `feed:${feedId}`,
      action: 'signal.accepted',
      entity: 'signal',
      entityId: id,
      input: { feedId, title, url: item.link ?? null },
      result: decision,
    });
    return { signalId: id, outcome: 'accepted' as const };
  });
}

/**
 * An official channel's item is kept as a signal (searchable, the archive's evidence) that the
 * engine never sees: it opens no incident. Unless it is the channel's archive (history), it
 * waits in `official_items` to be matched to the unit's open incidents as a candidate response.
 */
async function storeOfficialItem(
  tx: Parameters<Parameters<Db['transaction']>[0]>[0],
  feed: { id: string; jurisdiction: string; sourceRef: string },
  id: string,
  item: NormalisedItem,
  now: Date,
  official: OfficialChannel,
): Promise<{ signalId: string; outcome: StoreOutcome }> {
  const feedId = feed.id;
  const history = item.time.decision === 'history';
  const publishedAt = new Date(item.time.at);
  await tx
    .insert(signals)
    .values({
      id,
      source: 'official',
      sourceRef: feed.sourceRef,
      feedId,
      title: item.title,
      content: item.content ?? null,
      url: item.link ?? null,
      unitHint: official.unitId,
      publishedAt,
      receivedAt: now,
      timeDecision: item.time.decision,
      timeReason: item.time.reason,
      processedAt: now,
      jurisdiction: feed.jurisdiction,
    })
    .onConflictDoNothing();
  const origin = classifyOrigin({ title: item.title, content: item.content ?? null });
  if (!history)
    await tx
      .insert(officialItems)
      .values({
        signalId: id,
        feedId,
        unitId: official.unitId,
        title: item.title,
        url: item.link ?? null,
        publishedAt,
        original: origin.original,
        originReason: origin.reason,
        createdAt: now,
      })
      .onConflictDoNothing();
  // The channel's newest publication: what its silence is measured from.
  await tx
    .update(feeds)
    .set({ lastItemAt: sql`greatest(${feeds.lastItemAt}, ${publishedAt.toISOString()}::timestamptz)` })
    .where(sql`${feeds.id} = ${feedId}`);
  await audit(tx, {
    at: now,
    actor: `feed:${feedId}`,
    action: history ? 'official_item.stored_as_history' : 'official_item.stored',
    entity: 'signal',
    entityId: id,
    input: { feedId, unitId: official.unitId, title: item.title, url: item.link ?? null },
    result: { original: origin.original, reason: origin.reason, time: item.time.decision },
  });
  return { signalId: id, outcome: history ? 'history' : 'official' };
}

/** What marks masked text: kept digits' stars and the ID placeholder. */
const MASKED = /\*|\[身份证号已隐去\]/g;
const maskCount = (text: string) => text.match(MASKED)?.length ?? 0;

/**
 * An item's title as stored, shown on incidents and boards, and audited: phone numbers, ID
 * numbers and names masked as in a ticket's title (tickets.ts), since a local news post or a
 * forum thread quotes a citizen's number as readily as a hotline ticket does. The masker also
 * folds full-width digits and brackets; a title with nothing to mask is kept as published.
 */
export function storedTitle(title: string): string {
  const masked = maskPersonalData(title);
  return maskCount(masked) > maskCount(title) ? masked : title;
}

function safeIso(ms: number): string | null {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
