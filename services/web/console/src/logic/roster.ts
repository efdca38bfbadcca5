/** 值班表 page logic: weeks in Asia/Shanghai (Monday first), shift labels. Pure. */
const DAY = 86_400_000;
const OFFSET = 8 * 3_600_000;

/** Monday 00:00 Asia/Shanghai of the week containing `at`. */
export function shanghaiWeekStart(at: number): number {
  const day = Math.floor((at + OFFSET) / DAY); // day 0 (1970-01-01) was a Thursday
  const monday = day - ((((day + 3) % 7) + 7) % 7);
  return monday * DAY - OFFSET;
}

const fmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  month: '2-digit',
  day: '2-digit',
  weekday: 'short',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});

/** "03/02 周一 08:00" in Asia/Shanghai. */
export function shiftTime(iso: string): string {
  return fmt.format(new Date(iso));
}

/** "8小时" / "12小时30分". */
export function shiftLength(startsAt: string, endsAt: string): string {
  const minutes = Math.round((Date.parse(endsAt) - Date.parse(startsAt)) / 60_000);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `${h}小时` : `${h}小时${m}分`;
}

/** Instants where nobody is on shift within [from, to): the gaps the urgent alerts fall back to the duty mailbox. */
export function rosterGaps(
  shifts: readonly { startsAt: string; endsAt: string }[],
  from: number,
  to: number,
): { from: number; to: number }[] {
  const spans = shifts.map((s) => [Date.parse(s.startsAt), Date.parse(s.endsAt)] as const).sort((a, b) => a[0] - b[0]);
  const gaps: { from: number; to: number }[] = [];
  let covered = from;
  for (const [a, b] of spans) {
    if (b <= covered) continue;
    if (a > covered) gaps.push({ from: covered, to: Math.min(a, to) });
    covered = Math.max(covered, b);
    if (covered >= to) break;
  }
  if (covered < to) gaps.push({ from: covered, to });
  return gaps.filter((g) => g.to > g.from);
}
