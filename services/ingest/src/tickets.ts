import type {} from '@fastify/swagger';
import { type Static, Type } from '@sinclair/typebox';
import type { Db } from '@huiying/db';
import type { Clock } from '@huiying/clock';
import type {} from '@huiying/http';
import type { FastifyPluginAsync } from 'fastify';
import { GroupCommit } from './group-commit.ts';
import { acceptSignals, type NewSignal, redact } from './signals.ts';

/** Text without control characters other than tab and line breaks (PostgreSQL refuses NUL). */
const NO_CONTROL = '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$';

/** A 12345 hotline ticket (工单) as the hotline system hands it over. */
export const Ticket = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200, description: '工单编号 ticket id in the hotline system' }),
    receivedAt: Type.String({ format: 'date-time', description: '受理时间 ISO-8601 with offset' }),
    content: Type.String({ minLength: 1, maxLength: 20000, pattern: NO_CONTROL, description: '诉求内容' }),
    title: Type.Optional(Type.String({ maxLength: 500, pattern: NO_CONTROL })),
    category: Type.Optional(Type.String({ maxLength: 100, description: '咨询/求助/投诉/举报/建议' })),
    area: Type.Optional(Type.String({ maxLength: 100 })),
    unit: Type.Optional(Type.String({ maxLength: 100, description: '建议承办单位 id' })),
    contact: Type.Optional(Type.String({ maxLength: 100, description: '联系方式 (kept out of logs)' })),
  },
  { additionalProperties: false },
);
export type Ticket = Static<typeof Ticket>;

export const TicketAccepted = Type.Object({ signalId: Type.String(), duplicate: Type.Boolean() });

/** Most tickets per request: a batch is one transaction, and one request body stays bounded. */
export const MAX_TICKETS_PER_REQUEST = 1000;

export const TicketBatch = Type.Array(Ticket, {
  minItems: 1,
  maxItems: MAX_TICKETS_PER_REQUEST,
  description: '一批工单 (one transaction; idempotent per ticket id)',
});
export const TicketBatchAccepted = Type.Object({
  accepted: Type.Integer({ description: 'tickets stored now' }),
  duplicates: Type.Integer({ description: 'tickets seen before (or earlier in this batch)' }),
  results: Type.Array(TicketAccepted, { description: 'one per ticket, in request order' }),
});

export interface TicketRoutesOptions {
  db: Db;
  clock: Clock;
}

/** 1000 tickets of a few kB each; the largest legal ticket (20 000 characters) fits a few hundred times. */
const BATCH_BODY_LIMIT = 16 * 1024 * 1024;

function toSignal(t: Ticket, now: number): NewSignal {
  // A receive time in the future is not credible: the ticket cannot start a clock before we see it.
  const receivedAt = Math.min(Date.parse(t.receivedAt), now);
  return {
    source: 'hotline',
    sourceRef: t.id,
    // A title cut from the citizen's own words must not carry their phone number onwards.
    title: t.title ? redact(t.title) : redact(t.content).slice(0, 40),
    content: t.content,
    ...(t.category ? { category: t.category } : {}),
    ...(t.area ? { area: t.area } : {}),
    ...(t.unit ? { unitHint: t.unit } : {}),
    publishedAt: new Date(receivedAt).toISOString(),
    receivedAt: new Date(now).toISOString(),
  };
}

export const ticketRoutes: FastifyPluginAsync<TicketRoutesOptions> = async (app, { db, clock }) => {
  // Single-ticket requests that arrive together share one transaction (and one commit).
  const singles = new GroupCommit<NewSignal, { id: string; duplicate: boolean }>((items) =>
    acceptSignals(db, items, 'hotline', new Date(clock.now())),
  );
  app.addHook('onClose', () => singles.close());

  app.post<{ Body: Ticket | Ticket[] }>(
    '/api/tickets',
    {
      // The hotline system with a tickets:write token; a duty officer entering a phoned-in ticket.
      config: { access: { roles: ['duty'], scope: 'tickets:write' } },
      bodyLimit: BATCH_BODY_LIMIT,
      schema: {
        tags: ['ingest'],
        summary: '接收12345热线工单 Accept a 12345 hotline ticket, or a batch of up to 1000',
        body: Type.Union([Ticket, TicketBatch]),
        response: { 201: TicketAccepted, 200: Type.Union([TicketAccepted, TicketBatchAccepted]) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const now = clock.now();
      const tickets = Array.isArray(body) ? body : [body];
      if (tickets.some((t) => !Number.isFinite(Date.parse(t.receivedAt)))) {
        return reply.code(400).send({ code: 'HY_VALIDATION', message: 'body/receivedAt is not a valid instant' });
      }
      if (!Array.isArray(body)) {
        const result = await singles.submit(toSignal(body, now));
        return reply.code(result.duplicate ? 200 : 201).send({ signalId: result.id, duplicate: result.duplicate });
      }
      const results = await acceptSignals(
        db,
        body.map((t) => toSignal(t, now)),
        'hotline',
        new Date(now),
      );
      const duplicates = results.filter((r) => r.duplicate).length;
      return reply.code(200).send({
        accepted: results.length - duplicates,
        duplicates,
        results: results.map((r) => ({ signalId: r.id, duplicate: r.duplicate })),
      });
    },
  );
};
