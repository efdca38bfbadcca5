import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Db, eq, evidence, rowsOf, sql } from '@huiying/db';
import { ApiError, notVisible, principal, READERS } from '@huiying/http';
import { scopeOf } from '@huiying/identity';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { getIncident, visible } from '../read.ts';
import * as S from '../schemas.ts';
import type { RouteDeps } from './deps.ts';

const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);

export const EvidenceItem = Type.Object({
  id: Type.String(),
  url: Type.String(),
  /** pending (not fetched yet, or waiting to retry), archived, failed. */
  state: Type.String(),
  firstSeenAt: Iso,
  /** When the copy was taken (or the last attempt was made). */
  fetchedAt: Nullable(Iso),
  attempts: Type.Integer(),
  finalUrl: Nullable(Type.String()),
  httpStatus: Nullable(Type.Integer()),
  contentType: Nullable(Type.String()),
  size: Nullable(Type.Integer()),
  sha256: Nullable(Type.String()),
  /** Why it is not archived: too_large, blocked_address, http_status, timeout, dns, network, bad_url … */
  errorCode: Nullable(Type.String()),
  error: Nullable(Type.String()),
  signals: Type.Array(Type.String()),
  responses: Type.Array(Type.String()),
});

const errors = { 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody };

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string).toISOString());

/** Archived pages pointed at by the incident's signals and responses, each with who points at it. */
async function incidentEvidence(db: Db, incidentId: string) {
  const rows = rowsOf<Record<string, unknown>>(
    await db.execute(sql`
      select e.id, e.url, e.state, e.first_seen_at, e.fetched_at, e.attempts, e.final_url, e.http_status, e.content_type,
        e.size, e.sha256, e.error_code, e.error, r.kind, r.ref_id
      from evidence_refs r join evidence e on e.id = r.evidence_id
      where (r.kind = 'signal' and r.ref_id in (select id from signals where incident_id = ${incidentId}))
         or (r.kind = 'response' and r.ref_id in (select id from responses where incident_id = ${incidentId}))
      order by e.first_seen_at, e.id, r.kind, r.ref_id`),
  );
  const items = new Map<string, typeof EvidenceItem.static>();
  for (const r of rows) {
    const id = String(r.id);
    let item = items.get(id);
    if (!item) {
      item = {
        id,
        url: String(r.url),
        state: String(r.state),
        firstSeenAt: iso(r.first_seen_at)!,
        fetchedAt: iso(r.fetched_at),
        attempts: Number(r.attempts),
        finalUrl: (r.final_url as string | null) ?? null,
        httpStatus: r.http_status === null ? null : Number(r.http_status),
        contentType: (r.content_type as string | null) ?? null,
        size: r.size === null ? null : Number(r.size),
        sha256: (r.sha256 as string | null) ?? null,
        errorCode: (r.error_code as string | null) ?? null,
        error: (r.error as string | null) ?? null,
        signals: [],
        responses: [],
      };
      items.set(id, item);
    }
    (r.kind === 'signal' ? item.signals : item.responses).push(String(r.ref_id));
  }
  return [...items.values()];
}

/** The units of the incidents that point at an archived page (a page may serve several incidents). */
async function evidenceUnits(db: Db, id: string): Promise<(string | null)[]> {
  const rows = rowsOf<{ unit_id: string | null }>(
    await db.execute(sql`
      select distinct i.unit_id
      from evidence_refs r
      left join signals s on r.kind = 'signal' and s.id = r.ref_id
      left join responses p on r.kind = 'response' and p.id = r.ref_id
      join incidents i on i.id = coalesce(s.incident_id, p.incident_id)
      where r.evidence_id = ${id}`),
  );
  return rows.map((r) => r.unit_id);
}

/** Pages shown as (inert) HTML in a sandbox; other text as plain text; anything else downloaded. */
function servedAs(contentType: string | null): 'html' | 'text' | 'binary' {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/html' || type === 'application/xhtml+xml') return 'html';
  if (type === '' || type.startsWith('text/') || type.endsWith('xml') || type.endsWith('json')) return 'text';
  return 'binary';
}

/**
 * 证据留存 over HTTP. The copy is never live content of our origin: HTML is served under
 * `Content-Security-Policy: sandbox` (a unique origin, no scripts, no forms, no plugins) with
 * nothing loadable from anywhere (`default-src 'none'`, so opening the copy tells the original
 * site nothing), other text as `text/plain`, anything else as an attachment; always `nosniff`.
 */
export const evidenceRoutes: FastifyPluginAsync<RouteDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;

  app.get(
    '/api/incidents/:id/evidence',
    {
      config: { access: READERS },
      schema: {
        tags: ['incidents'],
        summary: '证据留存：事件线索与回应所指网页的存档',
        params: S.IdParams,
        response: { 200: Type.Object({ items: Type.Array(EvidenceItem) }), ...errors },
      },
    },
    async (request) => {
      const id = request.params.id;
      const found = await getIncident(db, id);
      if (!found) throw new ApiError('HY_NOT_FOUND', `incident ${id} not found`);
      if (!visible(scopeOf(principal(request)), found.unitId)) throw await notVisible(db, request, deps.realClock, 'incident', id);
      return { items: await incidentEvidence(db, id) };
    },
  );

  app.get(
    '/api/evidence/:id',
    {
      config: { access: READERS },
      schema: {
        tags: ['incidents'],
        summary: '查看存档副本（沙箱内的静态副本，不执行脚本）',
        params: S.IdParams,
        querystring: Type.Object({ download: Type.Optional(Type.Boolean()) }),
        produces: ['text/html', 'text/plain', 'application/octet-stream'],
        response: { ...errors },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const scope = scopeOf(principal(request));
      const owners = await evidenceUnits(db, id);
      const [row] = owners.length === 0 ? [] : await db.select().from(evidence).where(eq(evidence.id, id));
      if (!row) throw new ApiError('HY_NOT_FOUND', `evidence ${id} not found`);
      if (!owners.some((unit) => visible(scope, unit))) throw await notVisible(db, request, deps.realClock, 'evidence', id);
      if (row.state !== 'archived' || !row.body)
        throw new ApiError(
          'HY_NOT_FOUND',
          `evidence ${id} has no archived copy (${row.state}${row.errorCode ? `: ${row.errorCode}` : ''})`,
        );
      const as = request.query.download ? 'binary' : servedAs(row.contentType);
      reply
        .header('content-security-policy', "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:")
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'private, no-store')
        .header('x-evidence-url', encodeURI(row.url))
        .header('x-evidence-sha256', row.sha256 ?? '')
        .header('x-evidence-fetched-at', row.fetchedAt?.toISOString() ?? '');
      if (as === 'binary')
        return reply
          .type('application/octet-stream')
          .header('content-disposition', `attachment; filename="${id}"`)
          .send(row.body as never);
      // Decoded text is served as UTF-8 whatever the page's own encoding (a GBK page's <meta> is overridden by the header).
      const text = row.text ?? row.body.toString('utf8');
      return reply
        .type(as === 'html' ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8')
        .header('content-disposition', `inline; filename="${id}.${as === 'html' ? 'html' : 'txt'}"`)
        .send(text as never);
    },
  );
};
