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
 *
 * Jurisdictions (辖区) may override the escalation ladder and the 约谈 rule; an override lists
 * only what differs from the pack's own ladder (after this document's changes), in the same
 * shape as `ladder`:
 *
 *     { "jurisdictions": { "east": { "ladder": { "clocks": { "release": { "leadersAfterHours": 2 } },
 *                                                "interview": { "breaches": 2, "period": "month" } } } } }
 *
 * A clock or duty snapshots the ladder of its own jurisdiction when it starts (`ladderPackFor`).
 */
import { type Static, Type } from '@sinclair/typebox';
import { Value, type ValueError } from '@sinclair/typebox/value';
import { RulePackInvalid } from './errors.ts';
import {
  DEFAULT_LADDER_PACK,
  type InterviewRule,
  type InterviewRules,
  LADDER_ROLES,
  LADDER_STEP_KINDS,
  LADDER_TRIGGERS,
  type Ladder,
  type LadderPack,
  type LadderStep,
} from './ladder.ts';
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
  /** The escalation ladder per clock kind, and the 约谈 rule (ladder.ts): every jurisdiction's unless it overrides them. */
  readonly ladder: LadderPack;
  /**
   * Per jurisdiction (辖区, as signals, feeds and units name it): the ladder and 约谈 rule in force
   * there, already merged over `ladder`. Absent in packs built before jurisdictions had their own.
   */
  readonly jurisdictions?: Readonly<Record<string, JurisdictionRules>>;
}

export interface JurisdictionRules {
  readonly ladder: LadderPack;
}

/** The jurisdiction of a matter that names none (signals and units before 0020/0026). */
export const DEFAULT_JURISDICTION = 'default';

/** The rules one jurisdiction overrides, if any (own keys only: a jurisdiction may be called "constructor"). */
function overrideOf(pack: RulePack, jurisdiction: string | null | undefined): JurisdictionRules | undefined {
  const all = pack.jurisdictions;
  const key = jurisdiction ?? DEFAULT_JURISDICTION;
  return all !== undefined && Object.hasOwn(all, key) ? all[key] : undefined;
}

/** The ladder (per clock kind) and 约谈 rule of a jurisdiction: its override, else the pack's own. */
export function ladderPackFor(pack: RulePack, jurisdiction: string | null | undefined): LadderPack {
  return overrideOf(pack, jurisdiction)?.ladder ?? pack.ladder;
}

/** Every jurisdiction's 约谈 rule, for the readers that count breaches per unit (candidates, digests). */
export function interviewRulesOf(pack: RulePack): InterviewRules {
  const jurisdictions = Object.fromEntries(Object.entries(pack.jurisdictions ?? {}).map(([j, r]) => [j, r.ladder.interview]));
  return { default: pack.ladder.interview, jurisdictions };
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
  ladder: DEFAULT_LADDER_PACK,
  jurisdictions: {},
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

const Roles = Type.Array(Type.Union(LADDER_ROLES.map((r) => Type.Literal(r))), { uniqueItems: true });
const LadderStepDocument = Type.Object(
  {
    id: Type.String({ minLength: 1, pattern: '^[a-z0-9_-]+$', description: 'a step id of a-z, 0-9, _ or -' }),
    kind: Type.Union(LADDER_STEP_KINDS.map((k) => Type.Literal(k))),
    trigger: Type.Union(LADDER_TRIGGERS.map((k) => Type.Literal(k))),
    afterHours: Type.Optional(Type.Number({ minimum: 0 })),
    to: Roles,
    cc: Type.Optional(Roles),
    repeatEveryHours: Type.Optional(Type.Union([Type.Null(), Type.Number({ exclusiveMinimum: 0 })])),
    reportCandidate: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
/** Per clock kind: either tune the default ladder (two numbers) or give the whole list of steps. */
const LadderDocument = Type.Object(
  {
    leadersAfterHours: Type.Optional(Type.Number({ minimum: 0 })),
    urgeRepeatHours: Type.Optional(Type.Union([Type.Null(), Type.Number({ exclusiveMinimum: 0 })])),
    steps: Type.Optional(Type.Array(LadderStepDocument)),
  },
  { additionalProperties: false },
);
const ALL_CLOCK_KINDS = [...INCIDENT_CLOCK_KINDS, ...OBLIGATION_KINDS];
const LadderPackDocument = Type.Object(
  {
    clocks: Type.Optional(
      Type.Object(Object.fromEntries(ALL_CLOCK_KINDS.map((k) => [k, Type.Optional(LadderDocument)])), { additionalProperties: false }),
    ),
    interview: Type.Optional(
      Type.Object(
        {
          breaches: Type.Optional(Type.Integer({ minimum: 1 })),
          period: Type.Optional(Type.Union([Type.Literal('month'), Type.Literal('quarter'), Type.Literal('year')])),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const JurisdictionDocument = Type.Object({ ladder: Type.Optional(LadderPackDocument) }, { additionalProperties: false });

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
    ladder: Type.Optional(LadderPackDocument),
    jurisdictions: Type.Optional(
      Type.Record(Type.String(), JurisdictionDocument, {
        description: 'an object of jurisdiction name → { "ladder": overrides of the ladder and 约谈 rule }',
      }),
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

function invalid(path: string, message: string): RulePackInvalid {
  return new RulePackInvalid(path || '/', `rule pack invalid: ${path || '/'}: ${message}`);
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
  const ladder = mergeLadder(document.ladder, base.ladder, '/ladder');
  const jurisdictions = mergeJurisdictions(document.jurisdictions, base.jurisdictions ?? {}, ladder);
  return deepFreeze({ name: document.name ?? `${base.name}+custom`, clocks, obligations, ladder, jurisdictions });
}

const JURISDICTION_NAME = /^\S(?:.{0,98}\S)?$/u;

/**
 * Each jurisdiction the document names gets its override merged over the pack's (merged) ladder;
 * the base pack's other jurisdictions are kept as they were.
 */
function mergeJurisdictions(
  doc: RulePackDocument['jurisdictions'],
  base: Readonly<Record<string, JurisdictionRules>>,
  ladder: LadderPack,
): Record<string, JurisdictionRules> {
  const entries: [string, JurisdictionRules][] = Object.entries(base);
  for (const [name, d] of Object.entries(doc ?? {})) {
    const path = `/jurisdictions/${name}`;
    if (!JURISDICTION_NAME.test(name)) {
      throw invalid(
        path,
        `expected a jurisdiction name of 1 to 100 characters without leading or trailing spaces, got ${JSON.stringify(name)}`,
      );
    }
    const merged: JurisdictionRules = { ladder: mergeLadder(d.ladder, ladder, `${path}/ladder`) };
    const at = entries.findIndex(([j]) => j === name);
    if (at >= 0) entries[at] = [name, merged];
    else entries.push([name, merged]);
  }
  // fromEntries defines own properties, so a jurisdiction named "__proto__" stays data.
  return Object.fromEntries(entries);
}

type LadderDoc = Static<typeof LadderDocument>;

function mergeLadder(doc: Static<typeof LadderPackDocument> | undefined, base: LadderPack, at: string): LadderPack {
  if (doc === undefined) return base;
  const clocks: Record<string, Ladder> = { ...base.clocks };
  for (const kind of ALL_CLOCK_KINDS) {
    const d = (doc.clocks as Record<string, LadderDoc | undefined> | undefined)?.[kind];
    if (d === undefined) continue;
    const path = `${at}/clocks/${kind}`;
    if (d.steps !== undefined) {
      if (d.leadersAfterHours !== undefined || d.urgeRepeatHours !== undefined) {
        throw invalid(path, 'give steps, or leadersAfterHours/urgeRepeatHours, not both');
      }
      const seen = new Set<string>();
      const steps = d.steps.map((s, i): LadderStep => {
        if (seen.has(s.id)) throw invalid(`${path}/steps/${i}/id`, `duplicate step id ${JSON.stringify(s.id)}`);
        seen.add(s.id);
        return {
          id: s.id,
          kind: s.kind,
          trigger: s.trigger,
          afterMs: Math.round((s.afterHours ?? 0) * MS_PER_HOUR),
          to: [...s.to],
          cc: [...(s.cc ?? [])],
          repeatEveryMs: s.repeatEveryHours == null ? null : Math.round(s.repeatEveryHours * MS_PER_HOUR),
          reportCandidate: s.reportCandidate ?? false,
        };
      });
      clocks[kind] = { steps };
      continue;
    }
    clocks[kind] = {
      steps: base.clocks[kind as keyof LadderPack['clocks']].steps.map((s) => ({
        ...s,
        ...(s.trigger === 'breach' && s.kind === 'report' && d.leadersAfterHours !== undefined
          ? { afterMs: Math.round(d.leadersAfterHours * MS_PER_HOUR) }
          : {}),
        ...(s.trigger === 'breach' && s.kind === 'urge' && d.urgeRepeatHours !== undefined
          ? { repeatEveryMs: d.urgeRepeatHours === null ? null : Math.round(d.urgeRepeatHours * MS_PER_HOUR) }
          : {}),
      })),
    };
  }
  const interview: InterviewRule = {
    breaches: doc.interview?.breaches ?? base.interview.breaches,
    period: doc.interview?.period ?? base.interview.period,
  };
  return { clocks: clocks as LadderPack['clocks'], interview };
}
