import { audit, calendarYears, type Db, sql } from '@huiying/db';
import { CN_CALENDAR_DATA, createCalendar, parseCalendarData, type CalendarYearData, type WorkingDayCalendar } from '@huiying/domain';

const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/**
 * The live working-day calendar: the project's calendar file plus the years an administrator
 * loaded into the database (whole years, the database winning). Nothing is guessed: a year with
 * no data makes a due *provisional* (Monday–Friday, flagged) and the duty is recomputed when the
 * year is loaded.
 */
export class CalendarService {
  private strict: WorkingDayCalendar = createCalendar(CN_CALENDAR_DATA);
  private listeners = new Set<() => void | Promise<void>>();

  constructor(private readonly db: Db) {}

  async load(): Promise<void> {
    const rows = await this.db.select().from(calendarYears).orderBy(calendarYears.loadedAt);
    this.strict = createCalendar(
      CN_CALENDAR_DATA,
      rows.map((r) => ({ years: { [String(r.year)]: r.data } })),
    );
  }

  /** Refuses unknown years (CalendarYearMissing). */
  get calendar(): WorkingDayCalendar {
    return this.strict;
  }

  /** Counts unknown years Monday–Friday and flags the result provisional. */
  get provisional(): WorkingDayCalendar {
    return this.strict.withProvisional();
  }

  get years(): readonly number[] {
    return this.strict.years;
  }

  onChange(fn: () => void | Promise<void>): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** An administrator loads (or corrects) one year's official arrangement. */
  async putYear(year: number, data: CalendarYearData & { source?: string }, by: string, now: Date): Promise<void> {
    const { source, ...days } = data;
    const yearData = parseCalendarData({ years: { [String(year)]: days } }, `calendar year ${year}`).years[String(year)]!;
    for (const d of [...yearData.holidays, ...yearData.workdays]) {
      if (!d.startsWith(`${year}-`)) throw new RangeError(`date ${d} is not in ${year}`);
    }
    await this.db.transaction(async (tx) => {
      await tx
        .insert(calendarYears)
        .values({ year, data: yearData, source: source ?? null, loadedAt: now, loadedBy: by })
        .onConflictDoUpdate({ target: calendarYears.year, set: { data: yearData, source: source ?? null, loadedAt: now, loadedBy: by } });
      await audit(tx, { at: now, actor: by, action: 'calendar.year_loaded', entity: 'calendar', entityId: String(year), input: data });
      // Other API processes reload their calendar (see api/main.ts).
      await tx.execute(sql`select pg_notify('huiying_calendar', ${String(year)})`);
    });
    await this.changed();
  }

  /** Reload after this or another process changed the database, and tell listeners. */
  async changed(): Promise<void> {
    await this.load();
    for (const fn of this.listeners) await fn();
  }

  /**
   * The administrators' reminder: from 1 December (Asia/Shanghai) on, next year's official
   * arrangement should be loaded; until it is, next year's working-day dues are provisional.
   */
  health(now: number): { nextYear: number; nextYearLoaded: boolean; warning: string | null } {
    const local = new Date(now + SHANGHAI_OFFSET_MS);
    const nextYear = local.getUTCFullYear() + 1;
    const loaded = this.strict.hasYear(nextYear);
    const december = local.getUTCMonth() === 11;
    return {
      nextYear,
      nextYearLoaded: loaded,
      warning:
        !loaded && december
          ? `${nextYear}年节假日安排尚未导入：跨年的工作日时限按周一至周五临时计算 (the ${nextYear} holiday arrangement is missing; dues into ${nextYear} are provisional)`
          : null,
    };
  }
}
