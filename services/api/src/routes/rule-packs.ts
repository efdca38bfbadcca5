import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { activateRulePack, audit, listRulePacks, type RulePackRow, storeRulePack } from '@huiying/db';
import { parseRulePack, type RulePack, RulePackInvalid } from '@huiying/domain';
import { ApiError, principal } from '@huiying/http';
import { actorOf } from '@huiying/identity';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import * as S from '../schemas.ts';
import type { RouteDeps } from './deps.ts';

const ADMIN = { roles: ['admin'] } as const;
/** A refused pack names the offending field (`path`, a JSON pointer) beside the reason. */
const RulePackError = Type.Object({ code: Type.String(), message: Type.String(), path: Type.Optional(Type.String()) });
const errors = { 400: RulePackError, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody };

const Source = Type.Union([Type.Literal('default'), Type.Literal('file'), Type.Literal('database')]);
const InForce = Type.Object({
  source: Source,
  version: Type.Union([Type.Integer(), Type.Null()]),
  activatedBy: Type.Union([Type.String(), Type.Null()]),
  activatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  pack: Type.Unknown({ description: 'the parsed pack: every clock, duty, ladder and jurisdiction override in force' }),
});
const Version = Type.Object({
  version: Type.Integer(),
  note: Type.Union([Type.String(), Type.Null()]),
  createdBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  active: Type.Boolean(),
  activatedBy: Type.Union([Type.String(), Type.Null()]),
  activatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  document: Type.Unknown({ description: 'the document as entered (only what differs from the default)' }),
});
const NewVersion = Type.Object(
  {
    document: Type.Unknown({ description: 'a rule pack document (README "Rule packs"), validated before anything is stored' }),
    note: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

/**
 * 管理员: the rule pack in force and its versions (migration 0031). Storing a version activates
 * it; activating an older one rolls back. Every process re-reads the active version on
 * huiying_rule_pack, and only clocks started afterwards take it: running clocks keep their snapshot.
 */
export const rulePackRoutes: FastifyPluginAsync<RouteDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db, realClock } = deps;
  const now = () => new Date(realClock.now());

  app.get(
    '/api/admin/rule-pack',
    {
      config: { access: { roles: ['admin', 'leader', 'duty'] } },
      schema: { tags: ['admin'], summary: '当前规则包（新时限按此起算）及其来源', response: { 200: InForce, ...errors } },
    },
    async () => {
      const f = deps.rulePacks.info();
      return {
        source: f.source,
        version: f.version,
        activatedBy: f.activatedBy,
        activatedAt: f.activatedAt?.toISOString() ?? null,
        pack: f.pack,
      };
    },
  );

  app.get(
    '/api/admin/rule-packs',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '规则包版本（新的在前）',
        querystring: Type.Object({ ...S.PageQuery }, { additionalProperties: false }),
        response: { 200: S.Paged(Version), ...errors },
      },
    },
    async (request) => {
      const { page = 1, pageSize = 50 } = request.query;
      const { items, total } = await listRulePacks(db, { limit: pageSize, offset: (page - 1) * pageSize });
      return { items: items.map(versionView), total, page, pageSize };
    },
  );

  app.post(
    '/api/admin/rule-packs',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '校验并启用新规则包（仅影响此后起算的时限）',
        body: NewVersion,
        response: { 201: Version, ...errors },
      },
    },
    async (request, reply) => {
      const { document, note } = request.body;
      const pack = validated(document);
      const at = now();
      const by = actorOf(principal(request));
      const row = await db.transaction(async (tx) => {
        const stored = await storeRulePack(tx, { document, note: note?.trim() || null, by, at });
        await audit(tx, {
          at,
          actor: by,
          action: 'rule_pack.activated',
          entity: 'rule_pack',
          entityId: String(stored.version),
          input: { document, note: stored.note },
          result: { version: stored.version, name: pack.name },
        });
        return stored;
      });
      // This process needs no notification to see its own change (the others get huiying_rule_pack).
      await deps.rulePacks.reload();
      return reply.code(201).send(versionView(row));
    },
  );

  app.post(
    '/api/admin/rule-packs/:version/activate',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '启用某一版本（回退）',
        params: Type.Object({ version: Type.Integer({ minimum: 1 }) }),
        response: { 200: Version, ...errors },
      },
    },
    async (request) => {
      const { version } = request.params;
      const at = now();
      const by = actorOf(principal(request));
      const row = await db.transaction(async (tx) => {
        const activated = await activateRulePack(tx, version, by, at);
        if (!activated) throw new ApiError('HY_NOT_FOUND', `rule pack version ${version} not found`);
        // A stored version was valid when stored; a later code change may have tightened the schema.
        validated(activated.document);
        await audit(tx, {
          at,
          actor: by,
          action: 'rule_pack.activated',
          entity: 'rule_pack',
          entityId: String(version),
          result: { version },
        });
        return activated;
      });
      await deps.rulePacks.reload();
      return versionView(row);
    },
  );
};

/** The parsed pack, or a 400 naming the field: nothing is stored for a pack that does not parse. */
function validated(document: unknown): RulePack {
  try {
    return parseRulePack(document);
  } catch (error) {
    if (error instanceof RulePackInvalid) throw new ApiError('HY_RULE_PACK_INVALID', error.message, { path: error.path });
    throw error;
  }
}

function versionView(row: RulePackRow) {
  return {
    version: row.version,
    note: row.note,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    active: row.active,
    activatedBy: row.activatedBy,
    activatedAt: row.activatedAt?.toISOString() ?? null,
    document: row.document,
  };
}
