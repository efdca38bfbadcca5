/**
 * Rule packs: the deadlines as data. A local government tightens a rule (say, authoritative
 * information within 3 h instead of 5 h) by shipping a pack, not a code change.
 *
 * A pack document (JSON) lists only what differs from a base pack (the default, unless the
 * caller passes another); unknown keys are errors, so a typo cannot silently keep the default.
 *
 *     { "name": "某市 2026", "clocks": { "release": { "spanHours": 3 } } }
 *
 * Snapshot principle: a clock copies its span, warning points and qualifying response kinds
 * from the pack when it starts, so changing the pack never moves a running clock.
 */
import { type Static, Type } from '@sinclair/typebox';
import { Value, type ValueError } from '@sinclair/typebox/value';
import { DomainError } from './errors.ts';
import { MS_PER_HOUR } from './time.ts';
import type { IncidentClockKind, ObligationKind, ResponseKind } from './types.ts';

export interface ClockRule {
  readonly spanMs: number;
  /** Warning points as fractions of the span, strictly increasing, each in (0, 1). */
  readonly warnings: readonly number[];
  /** Response kinds whose original responses meet this clock. */
  readonly metBy: readonly ResponseKind[];
}

export interface ObligationRule {
  readonly workingDays: number;
  readonly warnings: readonly number[];
  /** The one allowed extension, or null when the kind cannot be extended. */
  readonly extension: { readonly workingDays: number } | null;
}

export interface RulePack {
  readonly name: string;
  readonly clocks: Readonly<Record<IncidentClockKind, ClockRule>>;
  readonly obligations: Readonly<Record<ObligationKind, ObligationRule>>;
}

export const INCIDENT_CLOCK_KINDS: readonly IncidentClockKind[] = ['response', 'release', 'press_conference'];
export const OBLIGATION_KINDS: readonly ObligationKind[] = [
  'policy_interpretation',
  'service_change',
  'proposal_reply',
  'penalty_disclosure',
  'disclosure_request',
];
export const RESPONSE_KINDS: readonly ResponseKind[] = ['release', 'press_conference', 'reply'];

const DEFAULT_WARNINGS = [0.5, 0.8] as const;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * replay.md's default pack: 国办发〔2016〕61号 and 80号 for incidents, the seeds' working-day
 * duties, and 政府信息公开条例 art. 33 (20 working days, extendable once by 20).
 */
export const DEFAULT_RULE_PACK: RulePack = deepFreeze({
  name: 'default',
  clocks: {
    response: { spanMs: 48 * MS_PER_HOUR, warnings: [...DEFAULT_WARNINGS], metBy: ['release', 'press_conference', 'reply'] },
    release: { spanMs: 5 * MS_PER_HOUR, warnings: [...DEFAULT_WARNINGS], metBy: ['release', 'press_conference', 'reply'] },
    press_conference: { spanMs: 24 * MS_PER_HOUR, warnings: [...DEFAULT_WARNINGS], metBy: ['press_conference'] },
  },
  obligations: {
    policy_interpretation: { workingDays: 3, warnings: [...DEFAULT_WARNINGS], extension: null },
    service_change: { workingDays: 1, warnings: [...DEFAULT_WARNINGS], extension: null },
    proposal_reply: { workingDays: 10, warnings: [...DEFAULT_WARNINGS], extension: null },
    penalty_disclosure: { workingDays: 20, warnings: [...DEFAULT_WARNINGS], extension: null },
    disclosure_request: { workingDays: 20, warnings: [...DEFAULT_WARNINGS], extension: { workingDays: 20 } },
  },
} satisfies RulePack);

const Warnings = Type.Array(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }), {
  description: 'warning points as fractions of the span, strictly increasing',
});
const ResponseKindSchema = Type.Union(RESPONSE_KINDS.map((k) => Type.Literal(k)));

const ClockRuleDocument = Type.Object(
  {
    spanMs: Type.Optional(Type.Integer({ minimum: 1 })),
    spanHours: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    warnings: Type.Optional(Warnings),
    metBy: Type.Optional(Type.Array(ResponseKindSchema, { minItems: 1, uniqueItems: true })),
  },
  { additionalProperties: false },
);

const ObligationRuleDocument = Type.Object(
  {
    workingDays: Type.Optional(Type.Integer({ minimum: 0 })),
    warnings: Type.Optional(Warnings),
    extension: Type.Optional(
      Type.Union([Type.Null(), Type.Object({ workingDays: Type.Integer({ minimum: 1 }) }, { additionalProperties: false })], {
        description: 'null, or { "workingDays": an integer ≥ 1 }',
      }),
    ),
  },
  { additionalProperties: false },
);

/** The JSON document a `--rules` file holds; every part optional, merged over a base pack. */
export const RulePackDocumentSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1 })),
    description: Type.Optional(Type.String()),
    clocks: Type.Optional(
      Type.Object(
        {
          response: Type.Optional(ClockRuleDocument),
          release: Type.Optional(ClockRuleDocument),
          press_conference: Type.Optional(ClockRuleDocument),
        },
        { additionalProperties: false },
      ),
    ),
    obligations: Type.Optional(
      Type.Object(
        {
          policy_interpretation: Type.Optional(ObligationRuleDocument),
          service_change: Type.Optional(ObligationRuleDocument),
          proposal_reply: Type.Optional(ObligationRuleDocument),
          penalty_disclosure: Type.Optional(ObligationRuleDocument),
          disclosure_request: Type.Optional(ObligationRuleDocument),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type RulePackDocument = Static<typeof RulePackDocumentSchema>;

/** TypeBox's own words, except where they are too vague to act on. */
function explain(error: ValueError): string {
  const anyOf = (error.schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (anyOf !== undefined && anyOf.every((s) => s.const !== undefined)) {
    return `expected one of ${anyOf.map((s) => String(s.const)).join(', ')}, got ${JSON.stringify(error.value)}`;
  }
  const description = (error.schema as { description?: string }).description;
  return description === undefined ? error.message : `expected ${description}, got ${JSON.stringify(error.value)}`;
}

function invalid(path: string, message: string): DomainError {
  return new DomainError('RULE_PACK_INVALID', `rule pack invalid: ${path || '/'}: ${message}`);
}

function checkIncreasing(path: string, warnings: readonly number[] | undefined): void {
  warnings?.forEach((w, i) => {
    if (i > 0 && w <= warnings[i - 1]!) throw invalid(`${path}/warnings/${i}`, 'warning fractions must be strictly increasing');
  });
}

/**
 * Validate a rule-pack document from unknown JSON and merge it over `base`. Throws a
 * DomainError (RULE_PACK_INVALID) whose message names the offending path.
 */
export function parseRulePack(document: unknown, base: RulePack = DEFAULT_RULE_PACK): RulePack {
  if (!Value.Check(RulePackDocumentSchema, document)) {
    const first = Value.Errors(RulePackDocumentSchema, document).First();
    throw invalid(first?.path ?? '', first === undefined ? 'does not match the rule-pack schema' : explain(first));
  }
  const clocks = { ...base.clocks };
  for (const kind of INCIDENT_CLOCK_KINDS) {
    const doc = document.clocks?.[kind];
    if (doc === undefined) continue;
    const path = `/clocks/${kind}`;
    if (doc.spanMs !== undefined && doc.spanHours !== undefined) throw invalid(path, 'give spanMs or spanHours, not both');
    checkIncreasing(path, doc.warnings);
    const spanMs = doc.spanMs ?? (doc.spanHours === undefined ? base.clocks[kind].spanMs : Math.round(doc.spanHours * MS_PER_HOUR));
    if (spanMs < 1) throw invalid(`${path}/spanHours`, 'span must be at least 1 ms');
    clocks[kind] = {
      spanMs,
      warnings: doc.warnings ? [...doc.warnings] : base.clocks[kind].warnings,
      metBy: doc.metBy ? [...doc.metBy] : base.clocks[kind].metBy,
    };
  }
  const obligations = { ...base.obligations };
  for (const kind of OBLIGATION_KINDS) {
    const doc = document.obligations?.[kind];
    if (doc === undefined) continue;
    checkIncreasing(`/obligations/${kind}`, doc.warnings);
    obligations[kind] = {
      workingDays: doc.workingDays ?? base.obligations[kind].workingDays,
      warnings: doc.warnings ? [...doc.warnings] : base.obligations[kind].warnings,
      extension:
        doc.extension === undefined ? base.obligations[kind].extension : doc.extension && { workingDays: doc.extension.workingDays },
    };
  }
  return deepFreeze({ name: document.name ?? `${base.name}+custom`, clocks, obligations });
}
