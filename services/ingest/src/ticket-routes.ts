/** The hotline intake routes: POST /api/tickets (one ticket or a JSON array), with its authentication. */
import type {} from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import { auditLog, type Db } from '@huiying/db';
import { type Clock, systemClock } from '@huiying/clock';
import { ApiError } from '@huiying/http';
import type { TokenCheck } from '@huiying/identity';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { GroupCommit } from './group-commit.ts';
import { pruneReplays, SIGNATURE_HEADER, SignatureError, SignedSourceCache, verifySignedRequest } from './hotline-auth.ts';
import { signalKeyOf } from './signal-key.ts';
import { REPLAYED, StaleTokenError, writeTickets } from './ticket-writes.ts';
import {
  DEFAULT_TICKET_TIME_POLICY,
  Ticket,
  TicketAccepted,
  TicketBatch,
  TicketBatchAccepted,
  type TicketOrigin,
  type TicketResult,
  type TicketTimePolicy,
} from './tickets.ts';

export interface TicketRoutesOptions {
  db: Db;
  /** The engine's clock: the bound on receivedAt and the stored times. */
  clock: Clock;
  /** Wall-clock time for signature timestamps (default: the system clock). */
  realClock?: Clock;
  policy?: TicketTimePolicy;
  /** Called after each write that may have queued bus messages (once per group commit, not per request): the outbox relay's nudge. */
  onWritten?: () => void;
  /** The group commit of single tickets: statements in flight at once, tickets per statement (GroupCommit's options). */
  singles?: { concurrency?: number; maxBatch?: number };
}

/** 1000 tickets of a few kB each; the largest legal ticket (20 000 characters) fits a few hundred times. */
const BATCH_BODY_LIMIT = 16 * 1024 * 1024;

const actorOf = (p: { kind: string; username: string }) => `${p.kind}:${p.username}`;

/** Who posts, for an authenticated request: a token bound to a source posts as it (403 when it is disabled). */
function originOf(request: FastifyRequest, signalKey: string): TicketOrigin {
  const user = request.user;
  if (!user) throw new ApiError('HY_UNAUTHENTICATED', 'not authenticated');
  // The source a token posts as came with the token's own look-up (no second round trip).
  const source = user.kind === 'token' ? user.boundSource : undefined;
  if (source && !source.active) throw new ApiError('HY_FORBIDDEN', `hotline source ${source.name} is disabled`);
  return { source: source ? { id: source.id, name: source.name } : null, actor: actorOf(user), signalKey };
}

export const ticketRoutes: FastifyPluginAsync<TicketRoutesOptions> = async (app, options) => {
  const { db, clock } = options;
  const realClock = options.realClock ?? systemClock;
  const policy = options.policy ?? DEFAULT_TICKET_TIME_POLICY;
  // Made by the first process to start on a new database, read by the others (signal-key.ts).
  const signalKey = await signalKeyOf(db);
  // The signature is over the bytes sent: keep them (this plugin's scope only) before parsing.
  const rawBodies = new WeakMap<FastifyRequest, Buffer>();
  const origins = new WeakMap<FastifyRequest, TicketOrigin>();
  /** Signed requests verified from memory, not yet against replays: the write (or verifySigned below) records them. */
  const pendingSignatures = new WeakMap<FastifyRequest, { signature: string; secretDigest: string }>();
  const sources = new SignedSourceCache(db);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: BATCH_BODY_LIMIT }, (request, body, done) => {
    rawBodies.set(request, body as Buffer);
    parseJson(request, (body as Buffer).toString('utf8'), done);
  });

  /** A refused signature: audited (who tried what, never the body), then 401 with the reason. */
  const refuseSignature = async (request: FastifyRequest, error: SignatureError): Promise<never> => {
    await db.insert(auditLog).values({
      at: new Date(realClock.now()),
      actor: 'anonymous',
      action: 'access.refused',
      entity: 'route',
      entityId: 'POST /api/tickets',
      input: { why: 'signature', reason: error.reason, ip: request.ip },
    });
    throw new ApiError('HY_UNAUTHENTICATED', `signature refused (${error.reason}): ${error.message}`);
  };
  /**
   * A signed request verified from memory, checked as it used to be before anything but its own
   * write: the source read afresh and the signature recorded (a replay refused). No-op otherwise.
   */
  const verifySigned = async (request: FastifyRequest): Promise<void> => {
    if (!pendingSignatures.has(request)) return;
    pendingSignatures.delete(request);
    try {
      const source = await verifySignedRequest(db, request.headers, rawBodies.get(request) ?? Buffer.alloc(0), new Date(realClock.now()));
      origins.set(request, { source: { id: source.id, name: source.name }, actor: `hotline:${source.name}`, signalKey });
    } catch (error) {
      if (error instanceof SignatureError) await refuseSignature(request, error);
      throw error;
    }
  };

  interface Single {
    ticket: Ticket;
    /** The request's signature, for a signed request verified from memory. */
    signature?: string;
  }
  // Single-ticket requests that arrive together share one statement (and one commit), per origin
  // and, for a token or a source taken from memory, per token or secret: the statement checks it
  // (writeTickets' guard) and records the signatures.
  const singles = new Map<string, GroupCommit<Single, TicketResult>>();
  const singlesFor = (origin: TicketOrigin, check: TokenCheck | null, secret: string | null) => {
    const key = `${origin.actor}\u0000${origin.source?.id ?? ''}\u0000${check?.tokenId ?? ''}\u0000${secret ?? ''}`;
    let group = singles.get(key);
    if (!group) {
      const tokenGuard = check ? { tokenId: check.tokenId, sourceId: check.sourceId } : undefined;
      // One statement per batch, atomic without a transaction around it (see writeTickets).
      group = new GroupCommit<Single, TicketResult>(async (items) => {
        const guard =
          secret !== null && origin.source
            ? {
                signedBy: origin.source.id,
                secretDigest: secret,
                signatures: items.map((i) => i.signature ?? ''),
                seenAt: new Date(realClock.now()),
              }
            : tokenGuard;
        const tickets = items.map((i) => i.ticket);
        const results = await writeTickets(db, tickets, origin, new Date(clock.now()), policy, guard);
        options.onWritten?.();
        return results;
      }, options.singles);
      singles.set(key, group);
    }
    return group;
  };
  app.addHook('onClose', async () => {
    await Promise.all([...singles.values()].map((g) => g.close()));
  });

  app.post<{ Body: Ticket | Ticket[] }>(
    '/api/tickets',
    {
      // A hotline system: signed (HMAC), or with a tickets:write token; a duty officer entering a phoned-in ticket.
      // A token this process has read before is checked by the write statement itself (one round trip),
      // and so is a signed request from a source it has read before.
      config: { access: { roles: ['duty'], scope: 'tickets:write', signedBy: SIGNATURE_HEADER, tokenCheckedInWrite: true } },
      bodyLimit: BATCH_BODY_LIMIT,
      schema: {
        tags: ['ingest'],
        summary: '接收12345热线工单 Accept a 12345 hotline ticket, or a batch of up to 1000',
        description:
          'Authenticate with an API token (scope tickets:write; a token bound to a hotline source posts as that source) or sign the raw body: X-Huiying-Source, X-Huiying-Timestamp (unix seconds, ±300 s), X-Huiying-Signature: sha256=hex(HMAC-SHA256(secret, timestamp + "." + body)). See services/ingest/README.md.',
        body: Type.Union([Ticket, TicketBatch]),
        response: { 201: TicketAccepted, 200: Type.Union([TicketAccepted, TicketBatchAccepted]) },
      },
      // A token or a signature taken from memory is verified before any answer but a successful
      // write: a revoked token or a replayed signature gets 401, not the reason its body is wrong.
      errorHandler: async (error, request) => {
        if (request.tokenCheck) await app.recheckToken(request);
        await verifySigned(request);
        throw error;
      },
      // Before validation: an unauthenticated body is not even looked at.
      preValidation: async (request) => {
        if (request.user) {
          origins.set(request, originOf(request, signalKey));
          return;
        }
        try {
          const now = new Date(realClock.now());
          const verified = await sources.verify(request.headers, rawBodies.get(request) ?? Buffer.alloc(0), now);
          origins.set(request, {
            source: { id: verified.source.id, name: verified.source.name },
            actor: `hotline:${verified.source.name}`,
            signalKey,
          });
          pendingSignatures.set(request, { signature: verified.signature, secretDigest: verified.secretDigest });
          // Signatures older than the window can no longer be replayed: deleted at most once a minute, off the request's path.
          void pruneReplays(db, now).catch((e: unknown) => request.log.warn({ err: e }, 'pruning hotline replays'));
        } catch (error) {
          if (error instanceof SignatureError) await refuseSignature(request, error);
          throw error;
        }
      },
    },
    async (request, reply) => {
      const body = request.body;
      const origin = origins.get(request);
      if (!origin) throw new ApiError('HY_UNAUTHENTICATED', 'not authenticated');
      if (!Array.isArray(body)) {
        const pending = pendingSignatures.get(request);
        let result: TicketResult;
        try {
          result = await singlesFor(origin, request.tokenCheck, pending?.secretDigest ?? null).submit({
            ticket: body,
            ...(pending ? { signature: pending.signature } : {}),
          });
        } catch (error) {
          if (!(error instanceof StaleTokenError)) throw error;
          // Revoked, or its source changed, since this process read it: read it now (401 if revoked), write as it says.
          await app.recheckToken(request);
          if (pending && origin.source) sources.forget(origin.source.name);
          await verifySigned(request); // the source disabled since, or its secret changed: 401
          result = await singlesFor(request.user ? originOf(request, signalKey) : origins.get(request)!, null, null).submit({
            ticket: body,
          });
        }
        request.tokenCheck = null; // the write verified it
        pendingSignatures.delete(request);
        if (result === REPLAYED) await refuseSignature(request, new SignatureError('replayed', REPLAYED.error!.message));
        if (result.error) throw new ApiError('HY_VALIDATION', `body/receivedAt: ${result.error.message}`);
        return reply
          .code(result.duplicate ? 200 : 201)
          .send({ signalId: result.signalId!, duplicate: result.duplicate === true, history: result.history === true });
      }
      // Batches read the token and the source from the database, as before (one look-up per up to 1000 tickets).
      if (request.tokenCheck) await app.recheckToken(request);
      await verifySigned(request);
      const fresh = request.user ? originOf(request, signalKey) : origins.get(request)!;
      const results = await writeTickets(db, body, fresh, new Date(clock.now()), policy);
      options.onWritten?.();
      const count = (f: (r: TicketResult) => boolean) => results.filter(f).length;
      return reply.code(200).send({
        accepted: count((r) => r.signalId !== undefined && r.duplicate === false),
        history: count((r) => r.history === true && r.duplicate === false),
        duplicates: count((r) => r.duplicate === true),
        refused: count((r) => r.error !== undefined),
        results,
      });
    },
  );
};
