/**
 * A bench that starts processes (a broker, the production mains) stops them and drops its
 * databases when it is interrupted, not only when it ends: Ctrl-C, SIGTERM or SIGHUP (a supervisor,
 * `timeout`, a closed terminal), or its output closed under it — piped into `head`, its next write
 * fails with EPIPE, and Node would exit on that error leaving the broker and both mains running.
 */
export type Cleanup = () => Promise<void> | void;

const SIGNALS = [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
] as const;

/** Run `cleanups` (last first) and exit on any of the above. Idempotent: the first one wins. */
export function cleanUpOnInterrupt(cleanups: Cleanup[]): void {
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      for (const c of [...cleanups].reverse())
        await Promise.resolve()
          .then(c)
          .catch(() => undefined);
      process.exit(code);
    })();
  };
  for (const [signal, code] of SIGNALS) process.once(signal, () => stop(code));
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (error: NodeJS.ErrnoException) => {
      // 141 = 128 + SIGPIPE, as a shell reports a process killed by a closed pipe.
      if (error.code === 'EPIPE') stop(141);
      else throw error;
    });
}
