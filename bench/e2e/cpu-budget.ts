/**
 * Where a phase's CPU went on this machine, by role: the processes under test, PostgreSQL, the
 * Kafka broker, and the machine as a whole (bench/e2e.ts). Read from /proc between two snapshots:
 * a process's utime + stime (all its threads), the machine's busy time from /proc/stat. A process
 * of the bench's own that exits between the two is missed (the load generator reports its own CPU
 * instead); PostgreSQL's are counted through the postmaster.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readProcStat, USER_HZ } from '../proc-stat.ts';

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

/** Busy seconds of every core: all of /proc/stat's first line but idle and iowait. */
function machineBusy(): number {
  const f = read('/proc/stat')!.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user! + nice! + system! + irq! + softirq! + steal!) / USER_HZ;
}

/**
 * Every process's CPU so far, with its role: `roles` names given pids (ingest, engine), PostgreSQL's
 * processes are found by name (every one of the server: backends, WAL writer, checkpointer,
 * autovacuum), the broker by its main class. On a machine running more than one server or broker,
 * all of them are counted: these benches expect to have the machine to themselves.
 */
export function cpuSnapshot(roles: ReadonlyMap<number, string>): CpuSnapshot {
  const byPid = new Map<number, { role: string; seconds: number }>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readProcStat(pid);
    if (stat === undefined) continue;
    let role = roles.get(pid);
    if (role === undefined && stat.comm === 'postgres') role = 'PostgreSQL';
    if (role === undefined && stat.comm === 'java' && (read(`/proc/${pid}/cmdline`) ?? '').includes('kafka.Kafka')) role = 'Kafka broker';
    // With the children it reaped for PostgreSQL only: the postmaster's hold the workers that ended
    // between two snapshots; the bench's would hold the load generator, which reports its CPU itself.
    if (role !== undefined) byPid.set(pid, { role, seconds: role === 'PostgreSQL' ? stat.cpu + stat.childCpu : stat.cpu });
  }
  return { byPid, machine: machineBusy() };
}

/**
 * CPU seconds per role between two snapshots — each role's total in the second less its total in
 * the first, so that a PostgreSQL process that exits between them counts once (its own time in the
 * first, its whole life in the postmaster's cutime in the second) — and the machine's.
 */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): { byRole: Map<string, number>; machine: number } {
  const totals = (s: CpuSnapshot) => {
    const t = new Map<string, number>();
    for (const { role, seconds } of s.byPid.values()) t.set(role, (t.get(role) ?? 0) + seconds);
    return t;
  };
  const before = totals(a);
  const byRole = new Map<string, number>();
  for (const [role, seconds] of totals(b)) byRole.set(role, seconds - (before.get(role) ?? 0));
  return { byRole, machine: b.machine - a.machine };
}
