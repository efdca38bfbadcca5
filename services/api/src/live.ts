import { randomUUID } from 'node:crypto';
import { type Bus, EventMessage, parseMessage, type Subscription, TOPICS } from '@huiying/bus';
import type { Db } from '@huiying/db';
import type { Logger } from 'pino';
import { getAlert, getIncident } from './read.ts';

export interface LiveClient {
  send(event: string, data: unknown): void;
  /** End the stream (server shutting down). */
  close(): void;
}

/**
 * Fans engine events out to dashboards over SSE. Every API process reads the whole events
 * topic (its own consumer group), so each connected browser sees every alert.
 */
export class LiveFeed {
  private clients = new Set<LiveClient>();
  private sub: Subscription | undefined;

  constructor(private readonly o: { db: Db; bus: Bus; logger: Logger }) {}

  async start(): Promise<void> {
    this.sub = await this.o.bus.subscribe({
      topic: TOPICS.events,
      groupId: `huiying-api-${randomUUID()}`,
      fromBeginning: false,
      handler: async (m) => {
        const e = parseMessage(EventMessage, m.value);
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

  broadcast(event: string, data: unknown): void {
    for (const c of this.clients) {
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
      if (alert) this.broadcast('alert', alert);
    }
    if (e.incidentId) {
      const incident = await getIncident(this.o.db, e.incidentId);
      if (incident) this.broadcast('incident', incident);
    }
  }
}
