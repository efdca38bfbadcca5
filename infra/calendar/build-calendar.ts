/**
 * Regenerates `packages/domain/data/calendar-cn.json` from the `chinese-days` package:
 *
 *     pnpm exec tsx infra/calendar/build-calendar.ts
 *
 * The core never calls chinese-days at run time: that library answers plain Monday–Friday
 * for years it has no data for, and a deadline must fail loudly instead. So its data is
 * frozen into our own file, every year cross-checked day by day against its API, and only
 * years it really has (some holiday or 调休 listed) are written.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createCalendar } from '../../packages/domain/src/calendar.ts';
import { daysFromCivil, formatDay } from '../../packages/domain/src/time.ts';

// chinese-days is the domain package's dependency: resolve it from there.
const require = createRequire(new URL('../../packages/domain/package.json', import.meta.url));
const pkg = require('chinese-days/package.json') as { version: string };
const raw = require('chinese-days/dist/chinese-days.json') as { holidays: Record<string, string>; workdays: Record<string, string> };
const api = require('chinese-days') as { isWorkday: (date: string) => boolean };

const years: Record<string, { holidays: string[]; workdays: string[] }> = {};
const entry = (date: string) => (years[date.slice(0, 4)] ??= { holidays: [], workdays: [] });
for (const date of Object.keys(raw.holidays)) entry(date).holidays.push(date);
for (const date of Object.keys(raw.workdays)) entry(date).workdays.push(date);

const sorted = Object.fromEntries(
  Object.keys(years)
    .sort()
    .map((y) => [y, { holidays: [...new Set(years[y]!.holidays)].sort(), workdays: [...new Set(years[y]!.workdays)].sort() }]),
);
const data = { source: `chinese-days ${pkg.version} (PRC State Council holiday arrangements, with 调休)`, years: sorted };

// Cross-check: our reading of the data must agree with the library on every day it covers.
const calendar = createCalendar(data);
for (const y of calendar.years) {
  for (let d = daysFromCivil(y, 1, 1); d < daysFromCivil(y + 1, 1, 1); d++) {
    const date = formatDay(d);
    if (calendar.isWorkingDay(date) !== api.isWorkday(date)) throw new Error(`disagreement with chinese-days on ${date}`);
  }
}

const out = fileURLToPath(new URL('../../packages/domain/data/calendar-cn.json', import.meta.url));
writeFileSync(out, JSON.stringify(data, null, 2) + '\n');
// The repository's formatter owns the layout (one date per line keeps diffs reviewable).
execFileSync('pnpm', ['exec', 'prettier', '--write', out], { stdio: 'inherit' });
console.log(`wrote ${out}: years ${calendar.years[0]}–${calendar.years.at(-1)}`);
