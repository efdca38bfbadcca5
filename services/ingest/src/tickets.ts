import type {} from '@fastify/swagger';
import { type Static, Type } from '@sinclair/typebox';
import type { Db } from '@huiying/db';
import type { Clock } from '@huiying/clock';
import type {} from '@huiying/http';
import type { FastifyPluginAsync } from 'fastify';
import { acceptSignal, redact } from './signals.ts';

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

export interface TicketRoutesOptions {
  db: Db;
  clock: Clock;
}

export const ticketRoutes: FastifyPluginAsync<TicketRoutesOptions> = async (app, { db, clock }) => {
  app.post<{ Body: Ticket }>(
    '/api/tickets',
    {
      // The hotline system with a tickets:write token; a duty officer entering a phoned-in ticket.
      config: { access: { roles: ['duty'], scope: 'tickets:write' } },
      schema: {
        tags: ['ingest'],
        summary: '接收12345热线工单 Accept a 12345 hotline ticket',
        body: Ticket,
        response: { 201: TicketAccepted, 200: TicketAccepted },
      },
    },
    async (request, reply) => {
      const t = request.body;
      const now = clock.now();
      // A receive time in the future is not credible: the ticket cannot start a clock before we see it.
      const parsed = Date.parse(t.receivedAt);
      if (!Number.isFinite(parsed))
        return reply.code(400).send({ code: 'HY_VALIDATION', message: 'body/receivedAt is not a valid instant' });
      const receivedAt = Math.min(parsed, now);
      const result = await acceptSignal(
        db,
        {
          source: 'hotline',
          sourceRef: t.id,
          // A title cut from the citizen's own words must not carry their phone number onwards.
          title: t.title ?? redact(t.content.slice(0, 40)),
          content: t.content,
          ...(t.category ? { category: t.category } : {}),
          ...(t.area ? { area: t.area } : {}),
          ...(t.unit ? { unitHint: t.unit } : {}),
          publishedAt: new Date(receivedAt).toISOString(),
          receivedAt: new Date(now).toISOString(),
        },
        'hotline',
        new Date(now),
      );
      return reply.code(result.duplicate ? 200 : 201).send({ signalId: result.id, duplicate: result.duplicate });
    },
  );
};
