import { randomUUID } from 'node:crypto';
import { type Bus, EventMessage, parseMessage, type Subscription, TOPICS } from '@huiying/bus';
import type { Clock } from '@huiying/clock';
import type { Db } from '@huiying/db';
import type { Logger } from 'pino';
import {
  DEFAULT_SESSION_POLICY,
  type Principal,
  readSessions,
  type Scope,
  scopeOf,
  sessionEnds,
  sessionLive,
  type SessionPolicy,
} from '@huiying/identity';
import { getAlert, getIncident, visible } from './read.ts';

export interface LiveClient {
  /** What this client's user may see: a unit user only its own unit's records. */
  scope: Scope;
  /** The cookie session the stream was opened with: the stream ends when the session does. */
  sessionId: string;
  role: Principal['role'];
  send(event: string, data: unknown): void;
  /** End the stream (server shutting down, or its session over). */
  close(): void;
}

/**
 * Fans engine events out to dashboards over SSE. Every API process reads the whole events
 * topic in a consumer group of its own (`huiying-api-<uuid>`, prefixed with KAFKA_TOPIC_PREFIX
 * by the bus like every group, and ephemeral: deleted when the process stops); each connected
 * browser gets the alerts and incidents its user may see, and nothing else.
 */
export class LiveFeed {
  private clients = new Set<LiveClient>();
  private sub: Subscription | undefined;
  private checking: Promise<void> | undefined;
  private checkAgain = false;
  private wake: { at: number; cancel: () => void } | undefined;

  constructor(
    private readonly o: {
      db: Db;
      bus: Bus;
      logger: Logger;
      onEvent?: (e: EventMessage) => void;
      /** Session time (wall clock, as the auth plugin uses): when idle or absolute expiry ends a stream. */
      realClock: Clock;
      sessionPolicy?: SessionPolicy;
    },
  ) {}

  async start(): Promise<void> {
    this.sub = await this.o.bus.subscribe({
      topic: TOPICS.events,
      groupId: `huiying-api-${randomUUID()}`,
      fromBeginning: false,
      // This process's own group: deleted when it stops, so restarts leave no groups on the broker.
      ephemeral: true,
      handler: async (m) => {
        const e = parseMessage(EventMessage, m.value);
        this.o.onEvent?.(e);
        await this.publish(e);
      },
    });
  }

  async stop(): Promise<void> {
    await this.sub?.close();
    this.endAll();
  }

  /** Open streams would keep the HTTP server from closing: end them first. */
  endAll(): void {
    for (const c of [...this.clients]) c.close();
    this.clients.clear();
    this.wake?.cancel();
    this.wake = undefined;
  }

  add(client: LiveClient): () => void {
    this.clients.add(client);
    // Read its session once: a revocation between the request's check and now ends it, and its
    // expiry is scheduled.
    void this.recheck();
    return () => this.clients.delete(client);
  }

  /**
   * Ends the streams whose session is over (revoked, logged out, expired, idle, user disabled) or
   * no longer speaks for the same scope (role or unit changed): the browser reconnects and is
   * asked again who it is. Called on every session change the database notifies
   * (SessionCache.onChange) and at the earliest expiry among the open streams. Runs one at a time;
   * a call during a run runs once more after it.
   */
  recheck(): Promise<void> {
    if (this.checking) {
      this.checkAgain = true;
      return this.checking;
    }
    const run = async () => {
      do {
        this.checkAgain = false;
        await this.checkSessions().catch((error: unknown) => this.o.logger.warn({ err: error }, 'live stream: session check failed'));
      } while (this.checkAgain);
    };
    this.checking = run().finally(() => (this.checking = undefined));
    return this.o.realClock.track?.(this.checking) ?? this.checking;
  }

  private async checkSessions(): Promise<void> {
    if (this.clients.size === 0) return;
    const clients = [...this.clients];
    const records = await readSessions(this.o.db, [...new Set(clients.map((c) => c.sessionId))]);
    const policy = this.o.sessionPolicy ?? DEFAULT_SESSION_POLICY;
    const now = this.o.realClock.now();
    let next = Infinity;
    for (const c of clients) {
      const r = records.get(c.sessionId);
      if (
        !r ||
        !sessionLive(r, now, policy) ||
        scopeOf(r.resolved.principal).unitId !== c.scope.unitId ||
        r.resolved.principal.role !== c.role
      ) {
        this.clients.delete(c);
        c.close();
      } else next = Math.min(next, sessionEnds(r, policy));
    }
    this.wakeAt(next);
  }

  /** One timer, at the earliest instant an open stream's session can end without a notification. */
  private wakeAt(at: number): void {
    if (this.wake && this.wake.at === at) return;
    this.wake?.cancel();
    this.wake = undefined;
    if (at === Infinity || this.clients.size === 0) return;
    this.wake = {
      at,
      cancel: this.o.realClock.at(at, () => {
        this.wake = undefined;
        void this.recheck();
      }),
    };
  }

  get size(): number {
    return this.clients.size;
  }

  /** Send to every client whose scope covers `unitId` (the record's unit). */
  broadcast(event: string, data: unknown, unitId: string | null): void {
    for (const c of this.clients) {
      if (!visible(c.scope, unitId)) continue;
      try {
        c.send(event, data);
      } catch (error) {
        this.o.logger.debug(error, 'dropping a live client');
        this.clients.delete(c);
      }
    }
  }

  private async publish(e: EventMessage): Promise<void> {
    if (this.clients.size === 0) return;
    if (e.alertId) {
      const alert = await getAlert(this.o.db, e.alertId);
      if (alert) this.broadcast('alert', alert, alert.unitId);
    }
    if (e.incidentId) {
      const incident = await getIncident(this.o.db, e.incidentId);
      if (incident) this.broadcast('incident', incident.view, incident.unitId);
    }
  }
}
