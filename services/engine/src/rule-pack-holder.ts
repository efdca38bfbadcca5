import { activeRulePack, type Db, type DbHandle, KeptListen } from '@huiying/db';
import { parseRulePack, type RulePack } from '@huiying/domain';

/** Where the pack in force comes from (README "Rule packs"): the database wins, then the file, then the default. */
export type RulePackSource = 'default' | 'file' | 'database';

export interface RulePackInForce {
  pack: RulePack;
  source: RulePackSource;
  /** The database version; null for the file or the default. */
  version: number | null;
  activatedBy: string | null;
  activatedAt: Date | null;
}

interface Logger {
  warn(obj: object, msg: string): void;
}

/**
 * The rule pack a process runs with, kept current: read at start, again on every
 * `huiying_rule_pack` notification (migration 0031) and every `resyncMs` as the fallback for a
 * lost LISTEN. Readers call `current()` at each use (a new clock), never keep the pack: running
 * clocks keep their own snapshot, so a change reaches new clocks only.
 *
 * A stored version that no longer parses (a later code change tightened the schema) is logged
 * and the last good pack kept, so a process never stops on it.
 */
export class RulePackHolder {
  private inForce: RulePackInForce;
  private readonly kept: KeptListen;
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private reloadAgain = false;
  private stopped = false;

  constructor(
    private readonly o: {
      db: Db;
      /** The pack without an active database version: RULE_PACK_FILE's ('file') or the default. */
      fallback: { pack: RulePack; source: Exclude<RulePackSource, 'database'> };
      listen?: DbHandle['listen'] | undefined;
      logger: Logger;
      /** Re-read this often whatever LISTEN says (default 60 s; 0 = never). */
      resyncMs?: number;
      /** Wait before listening again after LISTEN failed or its connection was lost (default 5 s). */
      retryMs?: number;
    },
  ) {
    this.inForce = fallbackInForce(o.fallback);
    this.kept = new KeptListen({
      listen: o.listen,
      channel: 'huiying_rule_pack',
      onNotify: () => void this.reload(),
      // A change committed between the first read and LISTEN would otherwise wait for the resync.
      onUp: () => this.reload(),
      logger: o.logger,
      label: 'rule pack',
      whileDown: 're-reading periodically',
      ...(o.retryMs !== undefined ? { retryMs: o.retryMs } : {}),
    });
  }

  /** The pack for a clock starting now. */
  current(): RulePack {
    return this.inForce.pack;
  }

  info(): RulePackInForce {
    return this.inForce;
  }

  async start(): Promise<void> {
    await this.reload();
    await this.kept.start();
    const every = this.o.resyncMs ?? 60_000;
    if (every > 0) {
      this.timer = setInterval(() => void this.reload(), every);
      this.timer.unref();
    }
  }

  /** Reads the active version now; concurrent calls fold into one more read. */
  async reload(): Promise<void> {
    if (this.loading) {
      this.reloadAgain = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.reloadAgain = false;
        await this.readOnce();
      } while (this.reloadAgain && !this.stopped);
    })().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async readOnce(): Promise<void> {
    try {
      const row = await activeRulePack(this.o.db);
      if (!row) {
        this.inForce = fallbackInForce(this.o.fallback);
        return;
      }
      if (
        this.inForce.source === 'database' &&
        this.inForce.version === row.version &&
        sameInstant(this.inForce.activatedAt, row.activatedAt)
      )
        return;
      this.inForce = {
        pack: parseRulePack(row.document),
        source: 'database',
        version: row.version,
        activatedBy: row.activatedBy,
        activatedAt: row.activatedAt,
      };
    } catch (error) {
      this.o.logger.warn({ err: String(error) }, 'rule pack: re-read failed, keeping the pack in force');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.loading;
    await this.kept.stop();
  }
}

function fallbackInForce(f: { pack: RulePack; source: RulePackSource }): RulePackInForce {
  return { pack: f.pack, source: f.source, version: null, activatedBy: null, activatedAt: null };
}

function sameInstant(a: Date | null, b: Date | null): boolean {
  return (a?.getTime() ?? null) === (b?.getTime() ?? null);
}
