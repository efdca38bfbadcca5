/**
 * The project's calendar file, the one both the live engine and replay load. Regenerate it
 * with `infra/calendar/build-calendar.ts` when a new year's arrangement is published.
 */
import data from '../data/calendar-cn.json' with { type: 'json' };
import { type CalendarData, type CalendarOptions, createCalendar, type WorkingDayCalendar } from './calendar.ts';

export const CN_CALENDAR_DATA: CalendarData = data;

/** The PRC working-day calendar from the project's data, plus whole-year overrides. */
export function chinaCalendar(overrides: readonly unknown[] = [], options: CalendarOptions = {}): WorkingDayCalendar {
  return createCalendar(CN_CALENDAR_DATA, overrides, options);
}
