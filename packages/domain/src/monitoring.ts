/**
 * Monitoring rules (监测方案): which signals are 政务舆情 worth an incident. An administrator
 * writes a keyword expression — AND / OR / NOT with parentheses, quoted phrases, place and
 * unit names being plain keywords — and narrows it by source kind, area and ticket category.
 * Every signal is stored; only one that matches a rule opens or joins an incident.
 *
 * The expression is parsed once (when the rule is saved, and when the engine loads the rules)
 * into a tree that is then matched against many signals. Pure: no I/O.
 */
import { DomainError } from './errors.ts';

export type RuleExpression =
  { op: 'all' } | { op: 'kw'; text: string } | { op: 'not'; arg: RuleExpression } | { op: 'and' | 'or'; args: RuleExpression[] };

/** A bad expression: `position` is the 1-based character where the parser gave up. */
export class RuleExpressionError extends DomainError {
  override name = 'RuleExpressionError';
  constructor(
    readonly position: number,
    readonly reason: string,
  ) {
    super('INVALID_INPUT', `expression: ${reason} at character ${position}`);
  }
}

type Token = { kind: 'and' | 'or' | 'not' | 'lp' | 'rp' | 'kw'; text: string; pos: number };

/** Operators: the English words (any case) or their symbols; 全角 brackets count as brackets. */
const WORDS: Record<string, Token['kind']> = { AND: 'and', OR: 'or', NOT: 'not' };
const SYMBOLS: Record<string, Token['kind']> = { '&': 'and', '|': 'or', '!': 'not', '(': 'lp', ')': 'rp', '（': 'lp', '）': 'rp' };
const MAX_EXPRESSION = 2000;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (/\s/.test(ch) || ch === '\u3000') {
      i++;
      continue;
    }
    const sym = SYMBOLS[ch];
    if (sym) {
      out.push({ kind: sym, text: ch, pos: i + 1 });
      i++;
      continue;
    }
    if (ch === '"' || ch === '“' || ch === '”') {
      const start = i;
      i++;
      let text = '';
      while (i < src.length && src[i] !== '"' && src[i] !== '”' && src[i] !== '“') text += src[i++];
      if (i >= src.length) throw new RuleExpressionError(start + 1, 'unterminated quoted phrase');
      i++;
      if (text.trim() === '') throw new RuleExpressionError(start + 1, 'empty quoted phrase');
      out.push({ kind: 'kw', text: text.trim(), pos: start + 1 });
      continue;
    }
    const start = i;
    let text = '';
    while (i < src.length && !/\s/.test(src[i]!) && src[i] !== '\u3000' && !SYMBOLS[src[i]!] && !'"“”'.includes(src[i]!)) text += src[i++];
    const word = WORDS[text.toUpperCase()];
    out.push({ kind: word ?? 'kw', text, pos: start + 1 });
  }
  return out;
}

/**
 * Parse an expression. Grammar (NOT binds tightest, then AND, then OR; adjacent terms are
 * ANDed, as in a search box):
 *
 *     or   := and ( OR and )*
 *     and  := not ( [AND] not )*
 *     not  := NOT not | atom
 *     atom := '(' or ')' | keyword | "quoted phrase"
 *
 * An empty (or blank) expression matches every signal the rule's other filters let through.
 */
export function parseRuleExpression(src: string): RuleExpression {
  if (src.length > MAX_EXPRESSION) throw new RuleExpressionError(MAX_EXPRESSION + 1, `longer than ${MAX_EXPRESSION} characters`);
  const tokens = tokenize(src);
  if (tokens.length === 0) return { op: 'all' };
  let p = 0;
  const end = src.length + 1;
  const peek = () => tokens[p];
  const describe = (t: Token | undefined) => (t ? `unexpected ${JSON.stringify(t.text)}` : 'unexpected end of expression');

  const parseOr = (): RuleExpression => {
    const args = [parseAnd()];
    while (peek()?.kind === 'or') {
      p++;
      args.push(parseAnd());
    }
    return args.length === 1 ? args[0]! : { op: 'or', args };
  };
  const parseAnd = (): RuleExpression => {
    const args = [parseNot()];
    for (;;) {
      const t = peek();
      if (t?.kind === 'and') {
        p++;
        args.push(parseNot());
      } else if (t && (t.kind === 'kw' || t.kind === 'lp' || t.kind === 'not')) {
        args.push(parseNot());
      } else break;
    }
    return args.length === 1 ? args[0]! : { op: 'and', args };
  };
  const parseNot = (): RuleExpression => {
    if (peek()?.kind === 'not') {
      p++;
      return { op: 'not', arg: parseNot() };
    }
    return parseAtom();
  };
  const parseAtom = (): RuleExpression => {
    const t = peek();
    if (!t) throw new RuleExpressionError(end, 'a keyword or "(" expected, found the end of the expression');
    if (t.kind === 'kw') {
      p++;
      return { op: 'kw', text: normalizeForMatch(t.text) };
    }
    if (t.kind === 'lp') {
      p++;
      const inner = parseOr();
      const close = peek();
      if (close?.kind !== 'rp')
        throw new RuleExpressionError(close?.pos ?? end, `")" expected to close "(" at character ${t.pos}, ${describe(close)}`);
      p++;
      return inner;
    }
    throw new RuleExpressionError(t.pos, `a keyword or "(" expected, ${describe(t)}`);
  };

  const tree = parseOr();
  if (p < tokens.length) throw new RuleExpressionError(tokens[p]!.pos, describe(tokens[p]));
  return tree;
}

/** Full-width to half-width, one case, so 「ＡＢＣ」 and 「abc」 match. */
export function normalizeForMatch(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

/** Does the (normalised) text satisfy the expression? */
export function matchesExpression(e: RuleExpression, normalizedText: string): boolean {
  switch (e.op) {
    case 'all':
      return true;
    case 'kw':
      return normalizedText.includes(e.text);
    case 'not':
      return !matchesExpression(e.arg, normalizedText);
    case 'and':
      return e.args.every((a) => matchesExpression(a, normalizedText));
    case 'or':
      return e.args.some((a) => matchesExpression(a, normalizedText));
  }
}

/** A source kind a rule may name: `hotline`, `manual`, `feed` (any feed) or `feed:<kind>` (e.g. `feed:news`). */
export type SourceKind = string;

export interface MonitoringRule {
  id: string;
  name: string;
  expression: RuleExpression;
  /** Empty: every source. */
  sources: readonly SourceKind[];
  /** Empty: every area. */
  areas: readonly string[];
  /** Empty: every ticket category. */
  categories: readonly string[];
}

export interface RuleSubject {
  source: 'feed' | 'hotline' | 'manual';
  /** The feed's kind (news, forum, …) for a feed signal. */
  feedKind?: string | null;
  area?: string | null;
  category?: string | null;
  title?: string | null;
  content?: string | null;
}

function sourceAllowed(rule: MonitoringRule, s: RuleSubject): boolean {
  if (rule.sources.length === 0) return true;
  return rule.sources.some((k) => k === s.source || (s.source === 'feed' && s.feedKind != null && k === `feed:${s.feedKind}`));
}

/**
 * The first rule (in the order given; callers sort by id so every engine agrees) that the
 * signal matches, or null. Area and category filters need the signal to carry that field.
 */
export function matchRules(rules: readonly MonitoringRule[], s: RuleSubject): MonitoringRule | null {
  let text: string | null = null;
  for (const rule of rules) {
    if (!sourceAllowed(rule, s)) continue;
    if (rule.areas.length > 0 && (s.area == null || !rule.areas.includes(s.area))) continue;
    if (rule.categories.length > 0 && (s.category == null || !rule.categories.includes(s.category))) continue;
    text ??= normalizeForMatch(`${s.title ?? ''}\n${s.content ?? ''}`);
    if (matchesExpression(rule.expression, text)) return rule;
  }
  return null;
}
