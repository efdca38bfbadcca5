/**
 * Where a phase's CPU went on this machine, by role: the processes under test, PostgreSQL, the
 * Kafka broker, and the machine as a whole (bench/e2e.ts). Read from /proc between two snapshots:
 * a process's utime + stime (all its threads), the machine's busy time from /proc/stat. A process
 * that exits between the two is missed (the load generator reports its own CPU instead).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (USER_HZ; 100 on Linux everywhere it runs). */
const HZ = 100;

export interface CpuSnapshot {
  /** pid → CPU seconds so far, for the processes of a known role. */
  byPid: Map<number, { role: string; seconds: number }>;
  /** The machine's busy CPU seconds (every core; not idle, not iowait). */
  machine: number;
}

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // gone between the listing and the read
  }
};

/** utime + stime of a process in seconds, from /proc/PID/stat (the command may hold spaces and parentheses). */
function cpuOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / HZ;
}

/** Busy seconds of every core: all of /proc/stat's first line but idle and iowait. */
function machineBusy(): number {
  const f = read('/proc/stat')!.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user! + nice! + system! + irq! + softirq! + steal!) / HZ;
}

/**
 * Every process's CPU so far, with its role: `roles` names given pids (ingest, engine), PostgreSQL's
 * processes are found by name (every one of the server: backends, WAL writer, checkpointer,
 * autovacuum), the broker by its main class.
 */
export function cpuSnapshot(roles: ReadonlyMap<number, string>): CpuSnapshot {
  const byPid = new Map<number, { role: string; seconds: number }>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = read(`/proc/${pid}/stat`);
    if (stat === undefined) continue;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    let role = roles.get(pid);
    if (role === undefined && comm === 'postgres') role = 'PostgreSQL';
    if (role === undefined && comm === 'java' && (read(`/proc/${pid}/cmdline`) ?? '').includes('kafka.Kafka')) role = 'Kafka broker';
    if (role !== undefined) byPid.set(pid, { role, seconds: cpuOf(stat) });
  }
  return { byPid, machine: machineBusy() };
}

/** CPU seconds per role between two snapshots (a process seen only in the second counts from 0), and the machine's. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): { byRole: Map<string, number>; machine: number } {
  const byRole = new Map<string, number>();
  for (const [pid, now] of b.byPid) {
    const was = a.byPid.get(pid)?.seconds ?? 0;
    byRole.set(now.role, (byRole.get(now.role) ?? 0) + now.seconds - was);
  }
  return { byRole, machine: b.machine - a.machine };
}
