import { randomUUID } from 'node:crypto';
import { type Bus, EventMessage, parseMessage, type Subscription, TOPICS } from '@huiying/bus';
import type { Db } from '@huiying/db';
import type { Logger } from 'pino';
import type { Scope } from '@huiying/identity';
import { getAlert, getIncident, visible } from './read.ts';

export interface LiveClient {
  /** What this client's user may see: a unit user only its own unit's records. */
  scope: Scope;
  send(event: string, data: unknown): void;
  /** End the stream (server shutting down). */
  close(): void;
}

/**
 * Fans engine events out to dashboards over SSE. Every API process reads the whole events
 * topic (its own consumer group); each connected browser gets the alerts and incidents its
 * user may see, and nothing else.
 */
export class LiveFeed {
  private clients = new Set<LiveClient>();
  private sub: Subscription | undefined;

  constructor(private readonly o: { db: Db; bus: Bus; logger: Logger; onEvent?: (e: EventMessage) => void }) {}

  async start(): Promise<void> {
    this.sub = await this.o.bus.subscribe({
      topic: TOPICS.events,
      groupId: `huiying-api-${randomUUID()}`,
      fromBeginning: false,
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
    for (const c of this.clients) c.close();
    this.clients.clear();
  }

  add(client: LiveClient): () => void {
    this.clients.add(client);
    return () => this.clients.delete(client);
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
