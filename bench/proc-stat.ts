/**
 * What the benches read of a process from Linux's /proc/PID/stat, in seconds: its own CPU (utime +
 * stime, all its threads), that of its children it has reaped (cutime + cstime), its parent and its
 * command name. One reader for every bench that reports CPU beside its figures.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux these benches run on). */
export const USER_HZ = 100;

export interface ProcStat {
  pid: number;
  ppid: number;
  /** The command name (comm), e.g. `postgres`, `java`, `node`. */
  comm: string;
  /** utime + stime, seconds. */
  cpu: number;
  /** cutime + cstime: the exited children it reaped, seconds. */
  childCpu: number;
}

/** The process's stat, or undefined once it is gone (or was never there). */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may hold spaces and parentheses itself: the fields
  // after its last ')' start at field 3 (state), so field k (1-based, proc(5)) is f[k - 3].
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    pid,
    ppid: Number(f[1]),
    comm: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')),
    cpu: (Number(f[11]) + Number(f[12])) / USER_HZ,
    childCpu: (Number(f[13]) + Number(f[14])) / USER_HZ,
  };
}

/** utime + stime of a process in seconds; 0 when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  return pid === undefined ? 0 : (readProcStat(pid)?.cpu ?? 0);
}
