import { activeRulePack, type Db, type DbHandle } from '@huiying/db';
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
  private unlisten: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
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
    await this.listen();
    const every = this.o.resyncMs ?? 60_000;
    if (every > 0) {
      this.timer = setInterval(() => void this.reload(), every);
      this.timer.unref();
    }
  }

  private async listen(): Promise<void> {
    if (!this.o.listen || this.stopped) return;
    try {
      this.unlisten = await this.o.listen(
        'huiying_rule_pack',
        () => void this.reload(),
        (error) => {
          this.o.logger.warn({ err: String(error) }, 'rule pack: LISTEN lost, re-reading periodically until it is back');
          this.retryListen();
        },
      );
      // A change committed between the first read and LISTEN would otherwise wait for the resync.
      await this.reload();
    } catch (error) {
      this.o.logger.warn({ err: String(error) }, 'rule pack: cannot LISTEN, re-reading periodically until it can');
      this.retryListen();
    }
  }

  private retryListen(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.listen();
    }, this.o.retryMs ?? 5_000);
    this.retry.unref();
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
    if (this.retry) clearTimeout(this.retry);
    await this.loading;
    await this.unlisten?.();
  }
}

function fallbackInForce(f: { pack: RulePack; source: RulePackSource }): RulePackInForce {
  return { pack: f.pack, source: f.source, version: null, activatedBy: null, activatedAt: null };
}

function sameInstant(a: Date | null, b: Date | null): boolean {
  return (a?.getTime() ?? null) === (b?.getTime() ?? null);
}
