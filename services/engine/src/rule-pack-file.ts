import { readFileSync } from 'node:fs';
import { DEFAULT_RULE_PACK, parseRulePack, type RulePack } from '@huiying/domain';

/**
 * The rule pack a deployment runs with: the default, or a local government's validated JSON
 * file that tightens it (e.g. a 3 h release). Clocks keep the pack they started with, so a new
 * pack affects new clocks only.
 */
export function loadRulePack(path: string | undefined): RulePack {
  if (!path) return DEFAULT_RULE_PACK;
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`rule pack ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return parseRulePack(document);
  } catch (error) {
    throw new Error(`rule pack ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The pack without an active database version (README "Rule packs"): RULE_PACK_FILE's, else the default. */
export function rulePackFallback(path: string | undefined): { pack: RulePack; source: 'file' | 'default' } {
  return path ? { pack: loadRulePack(path), source: 'file' } : { pack: DEFAULT_RULE_PACK, source: 'default' };
}
