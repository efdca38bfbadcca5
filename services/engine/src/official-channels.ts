import { createHash } from 'node:crypto';
import { TOPICS } from '@huiying/bus';
import { alerts, audit, type Db, enqueue, responseCandidates, rowsOf, sql } from '@huiying/db';
import {
  channelSilence,
  type IncidentEvidence,
  matchOfficialItem,
  MS_PER_DAY,
  SILENCE_RULES,
  type SilenceRule,
  type WorkingDayCalendar,
} from '@huiying/domain';
import { cancelSourceAlertNotifications, queueSourceAlertNotifications } from '@huiying/notify';
import type { Logger } from 'pino';
import { recordResponse } from './record-response.ts';
import type { EngineDeps } from './store.ts';

export interface OfficialChannelOptions {
  /** Matches below this are not proposed at all. */
  minimumConfidence: number;
  /** The best match at or above this is recorded as the response without waiting for a duty officer. */
  autoApplyThreshold: number;
  /** At most this many incidents proposed per item. */
  maxCandidatesPerItem: number;
  /** Items claimed per pass. */
  batch: number;
}

export const DEFAULT_OFFICIAL_CHANNEL_OPTIONS: OfficialChannelOptions = {
  minimumConfidence: 0.35,
  autoApplyThreshold: 0.9,
  maxCandidatesPerItem: 3,
  batch: 100,
};

export const AUTO_ACTOR = 'auto:response-candidates';
export const channelSilentAlertId = (feedId: string): string => `channel_silent:${feedId}`;

/** Refreshes dashboards (LiveFeed) when a channel's alert is raised or withdrawn; nothing mails on it. */
function channelAlertEvent(alertId: string, event: string, at: Date, unitId: string | null) {
  return {
    topic: TOPICS.events,
    key: alertId,
    payload: { v: 1, type: 'event', id: `evt_${alertId}_${event}_${at.getTime()}`, event, at: at.toISOString(), alertId, unitId },
  };
}

export class CandidateConflict extends Error {
  override name = 'CandidateConflict';
}

export interface OfficialChannelDeps {
  engine: EngineDeps;
  /** Working days (the engine's calendar; unknown years counted Monday–Friday). */
  calendar: () => WorkingDayCalendar;
  logger?: Logger;
  options?: Partial<OfficialChannelOptions>;
}

interface PendingItem {
  signal_id: string;
  feed_id: string;
  unit_id: string | null;
  title: string | null;
  url: string | null;
  content: string | null;
  published_at: string | Date;
  original: boolean;
  origin_reason: string;
  channel: string;
  jurisdiction: string;
}

/**
 * Official channels' side of the engine: their new items become candidate responses to open
 * incidents (proposed to the duty officer, or recorded at once above the threshold), and a
 * channel silent past its rule raises an alert to its unit. Both are passes over the database,
 * safe to run from several processes (items are claimed with SKIP LOCKED; alert ids are fixed).
 */
export class OfficialChannels {
  readonly options: OfficialChannelOptions;

  constructor(private readonly deps: OfficialChannelDeps) {
    this.options = { ...DEFAULT_OFFICIAL_CHANNEL_OPTIONS, ...deps.options };
  }

  private get db(): Db {
    return this.deps.engine.db;
  }

  /** Match waiting items to open incidents; returns the candidates made and how many were applied automatically. */
  async propose(): Promise<{ items: number; candidates: number; applied: number }> {
    const now = new Date(this.deps.engine.clock.now());
    const o = this.options;
    const auto: { id: string; reason: string }[] = [];
    const made = await this.db.transaction(async (tx) => {
      const items = rowsOf<PendingItem>(
        await tx.execute(sql`
          select oi.signal_id, oi.feed_id, oi.unit_id, oi.title, oi.url, s.content, oi.published_at, oi.original,
                 oi.origin_reason, coalesce(f.name, oi.feed_id) as channel, coalesce(f.jurisdiction, s.jurisdiction, 'default') as jurisdiction
          from official_items oi
          left join signals s on s.id = oi.signal_id
          left join feeds f on f.id = oi.feed_id
          where oi.proposed_at is null
          order by oi.created_at, oi.signal_id
          limit ${o.batch}
          for update of oi skip locked`),
      );
      let candidates = 0;
      for (const item of items) {
        const incidents = await this.openIncidents(tx, item.unit_id, item.jurisdiction);
        const matches = matchOfficialItem(
          { title: item.title ?? '', content: item.content, url: item.url },
          incidents,
          o.minimumConfidence,
        ).slice(0, o.maxCandidatesPerItem);
        for (const [rank, m] of matches.entries()) {
          const id = `rc_${createHash('sha256').update(`${item.signal_id}\u0000${m.incidentId}`).digest('hex').slice(0, 20)}`;
          // The item's own 来源 line decides unless the incident shows it copied a news signal's title.
          const original = item.original && m.original;
          const originReason = item.original ? m.originReason : item.origin_reason;
          const inserted = await tx
            .insert(responseCandidates)
            .values({
              id,
              signalId: item.signal_id,
              feedId: item.feed_id,
              incidentId: m.incidentId,
              unitId: item.unit_id,
              title: item.title,
              url: item.url,
              publishedAt: new Date(item.published_at),
              original,
              originReason,
              confidence: m.confidence,
              matchReason: m.reason,
              createdAt: now,
            })
            .onConflictDoNothing()
            .returning({ id: responseCandidates.id });
          if (inserted.length === 0) continue;
          candidates++;
          await audit(tx, {
            at: now,
            actor: AUTO_ACTOR,
            action: 'response_candidate.proposed',
            entity: 'incident',
            entityId: m.incidentId,
            result: { candidate: id, signal: item.signal_id, confidence: m.confidence, reason: m.reason, original, originReason },
          });
          if (rank === 0 && m.confidence >= o.autoApplyThreshold)
            auto.push({
              id,
              reason: `自动采纳 confidence ${m.confidence.toFixed(2)} ≥ threshold ${o.autoApplyThreshold}: ${m.reason}; ${originReason}`,
            });
        }
        await tx.execute(sql`update official_items set proposed_at = ${now.toISOString()} where signal_id = ${item.signal_id}`);
      }
      return { items: items.length, candidates };
    });
    let applied = 0;
    for (const a of auto) {
      try {
        await this.decide(a.id, 'accept', AUTO_ACTOR, a.reason);
        applied++;
      } catch (error) {
        // The incident closed (or a person decided) in between: the candidate stays for the duty officer.
        this.deps.logger?.warn({ candidate: a.id, err: error }, 'automatic response not applied');
      }
    }
    return { ...made, applied };
  }

  /**
   * The unit's open incidents (and unassigned ones: the channel may be first to answer) with their
   * signals — of the channel's own jurisdiction: another jurisdiction's matter is not its to answer.
   */
  private async openIncidents(
    tx: Parameters<Parameters<Db['transaction']>[0]>[0],
    unitId: string | null,
    jurisdiction: string,
  ): Promise<IncidentEvidence[]> {
    const unit = unitId === null ? sql`true` : sql`(i.unit_id = ${unitId} or i.unit_id is null)`;
    const rows = rowsOf<{ id: string; title: string; s_title: string | null; s_url: string | null; s_source: string | null }>(
      await tx.execute(sql`
        select i.id, i.title, s.title as s_title, s.url as s_url, s.source as s_source
        from incidents i left join signals s on s.incident_id = i.id
        where i.status = 'open' and ${unit}
          and exists (select 1 from signals sj where sj.incident_id = i.id and sj.jurisdiction = ${jurisdiction})
        order by i.id`),
    );
    const byId = new Map<string, IncidentEvidence>();
    for (const r of rows) {
      let inc = byId.get(r.id);
      if (!inc) byId.set(r.id, (inc = { id: r.id, title: r.title, signals: [] }));
      if (r.s_title !== null || r.s_url !== null) inc.signals.push({ title: r.s_title, url: r.s_url, news: r.s_source === 'feed' });
    }
    return [...byId.values()];
  }

  /**
   * A duty officer's (or the automatic) decision on a proposed candidate, with its reason.
   * Accepting records the response through the one response path; the candidate is marked in
   * the same transaction, so a second decision finds it decided (CandidateConflict).
   */
  async decide(id: string, decision: 'accept' | 'reject', actor: string, reason: string): Promise<void> {
    const now = new Date(this.deps.engine.clock.now());
    const [c] = await this.db
      .select()
      .from(responseCandidates)
      .where(sql`${responseCandidates.id} = ${id}`);
    if (!c) throw new CandidateConflict(`response candidate ${id} not found`);
    if (c.status !== 'proposed') throw new CandidateConflict(`response candidate ${id} is already ${c.status}`);
    const mark = async (tx: Parameters<Parameters<Db['transaction']>[0]>[0], responseId: string | null) => {
      const rows = await tx
        .update(responseCandidates)
        .set({
          status: decision === 'accept' ? 'accepted' : 'rejected',
          decidedAt: now,
          decidedBy: actor,
          decisionReason: reason,
          responseId,
        })
        .where(sql`${responseCandidates.id} = ${id} and ${responseCandidates.status} = 'proposed'`)
        .returning({ id: responseCandidates.id });
      if (rows.length === 0) throw new CandidateConflict(`response candidate ${id} was decided concurrently`);
      await audit(tx, {
        at: now,
        actor,
        action: decision === 'accept' ? 'response_candidate.accepted' : 'response_candidate.rejected',
        entity: 'incident',
        entityId: c.incidentId,
        input: { candidate: id, reason },
        result: responseId ? { responseId, original: c.original } : null,
      });
    };
    if (decision === 'reject') {
      await this.db.transaction((tx) => mark(tx, null));
      return;
    }
    await recordResponse(
      this.deps.engine,
      {
        incidentId: c.incidentId,
        kind: 'release',
        original: c.original,
        publishedAt: Math.min(c.publishedAt.getTime(), now.getTime()),
        unit: c.unitId ?? undefined,
        channel: c.feedId,
        url: c.url ?? undefined,
        input: { candidate: id, reason },
      },
      actor,
      (tx, responseId) => mark(tx, responseId),
    );
  }

  /**
   * Seed 003 六(四)5: an official channel silent past its rule raises `channel_silent` to its
   * unit; its next item (or a pause) withdraws it. Returns alerts raised and withdrawn.
   */
  async checkSilence(): Promise<{ raised: number; withdrawn: number }> {
    const now = this.deps.engine.clock.now();
    const calendar = this.deps.calendar();
    const channels = rowsOf<{
      id: string;
      name: string;
      url: string;
      unit_id: string | null;
      silence_rule: string;
      added_at: string | Date;
      last_item_at: string | Date | null;
      week: number;
      open: boolean;
      enabled: boolean;
    }>(
      await this.db.execute(sql`
        select f.id, f.name, f.url, f.unit_id, f.silence_rule, f.added_at, f.last_item_at, f.enabled,
          (select count(*)::int from signals s where s.feed_id = f.id and s.source = 'official'
             and s.published_at > ${new Date(now - 7 * MS_PER_DAY).toISOString()}) as week,
          exists (select 1 from alerts a where a.id = 'channel_silent:' || f.id and a.retracted_at is null) as open
        from feeds f
        where f.kind = 'official' and f.silence_rule is not null`),
    );
    let raised = 0;
    let withdrawn = 0;
    for (const ch of channels) {
      if (!SILENCE_RULES.includes(ch.silence_rule as SilenceRule)) continue;
      // A paused channel is not watched: it raises nothing, and what it raised is withdrawn.
      const verdict = !ch.enabled
        ? { silent: false, reason: 'channel paused', provisional: false }
        : channelSilence(
            ch.silence_rule as SilenceRule,
            {
              now,
              addedAt: new Date(ch.added_at).getTime(),
              lastItemAt: ch.last_item_at ? new Date(ch.last_item_at).getTime() : null,
              itemsInLastWeek: ch.week,
            },
            calendar,
          );
      const alertId = channelSilentAlertId(ch.id);
      if (verdict.silent && !ch.open) {
        const wiring = this.deps.engine.ladder;
        const done = await this.db.transaction(async (tx) => {
          // Only a missing or withdrawn alert is (re)raised: two engines checking at once raise (and mail) it once.
          const rows = await tx
            .insert(alerts)
            .values({ id: alertId, feedId: ch.id, kind: 'channel_silent', unitId: ch.unit_id, at: new Date(now) })
            .onConflictDoUpdate({
              target: alerts.id,
              set: { at: new Date(now), unitId: ch.unit_id, acknowledgedAt: null, acknowledgedBy: null, retractedAt: null },
              setWhere: sql`${alerts.retractedAt} is not null`,
            })
            .returning({ id: alerts.id });
          if (rows.length === 0) return false;
          await enqueue(tx, new Date(now), [channelAlertEvent(alertId, 'channel_silent', new Date(now), ch.unit_id)]);
          // The unit, copied to its supervising office; without wiring (no duty mailbox) it is on the board only.
          const mailed = wiring
            ? await queueSourceAlertNotifications(
                tx,
                [
                  {
                    alertId,
                    kind: 'channel_silent',
                    raisedAt: now,
                    feed: { id: ch.id, name: ch.name, url: ch.url },
                    unitId: ch.unit_id,
                    since: ch.last_item_at ? new Date(ch.last_item_at).getTime() : null,
                    detail: verdict.reason,
                  },
                ],
                { dashboardUrl: wiring.dashboardUrl, dutyEmail: wiring.dutyEmail },
                now,
              )
            : undefined;
          await audit(tx, {
            at: new Date(now),
            actor: AUTO_ACTOR,
            action: 'alert.raised',
            entity: 'alert',
            entityId: alertId,
            result: {
              kind: 'channel_silent',
              feedId: ch.id,
              unitId: ch.unit_id,
              rule: ch.silence_rule,
              reason: verdict.reason,
              notified: mailed?.get(alertId) ?? null,
            },
          });
          return true;
        });
        if (done) raised++;
      } else if (!verdict.silent && ch.open) {
        await this.db.transaction(async (tx) => {
          await tx.execute(sql`update alerts set retracted_at = ${new Date(now).toISOString()} where id = ${alertId}`);
          await enqueue(tx, new Date(now), [channelAlertEvent(alertId, 'channel_updated', new Date(now), ch.unit_id)]);
          // The update mails nobody; mail about the silence not yet sent is no longer news.
          const cancelled = await cancelSourceAlertNotifications(tx, alertId, now, 'channel updated');
          await audit(tx, {
            at: new Date(now),
            actor: AUTO_ACTOR,
            action: 'alert.withdrawn',
            entity: 'alert',
            entityId: alertId,
            result: { reason: verdict.reason, ...(cancelled > 0 ? { notificationsCancelled: cancelled } : {}) },
          });
        });
        withdrawn++;
      }
    }
    return { raised, withdrawn };
  }
}
