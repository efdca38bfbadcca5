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

interface Cleanups {
  /** Run every cleanup once, last registered first; every caller gets the same run. */
  run(): Promise<void>;
  /** The exit code of the interruption, if there was one (130, 143, 129; 141 for a closed pipe). */
  readonly interrupted: number | undefined;
}

/**
 * The one way `cleanups` are run, at the end (`run()` in runBench's `finally`) or on any of the
 * above (then the process exits with the interruption's code). Each runs once, in reverse order,
 * even when an interruption arrives while the end's run is under way.
 */
function cleanUpOnInterrupt(cleanups: Cleanup[], report: (error: unknown) => void = () => undefined): Cleanups {
  let running: Promise<void> | undefined;
  let interrupted: number | undefined;
  const run = () =>
    (running ??= (async () => {
      for (let c = cleanups.pop(); c; c = cleanups.pop()) await Promise.resolve().then(c).catch(report);
    })());
  const stop = (code: number) => {
    if (interrupted !== undefined) return;
    interrupted = code;
    void run().then(() => process.exit(code));
  };
  for (const [signal, code] of SIGNALS) process.once(signal, () => stop(code));
  for (const stream of [process.stdout, process.stderr])
    // 141 = 128 + SIGPIPE, as a shell reports a process killed by a closed pipe; any other failure
    // of the output stops the bench all the same (1), rather than leaving its processes behind.
    stream.on('error', (error: NodeJS.ErrnoException) => stop(error.code === 'EPIPE' ? 141 : 1));
  return {
    run,
    get interrupted() {
      return interrupted;
    },
  };
}

/**
 * Run a bench's `main` and end the process: its cleanups once whatever happened, the exit code 0,
 * 1 if `main` failed, or the interruption's (a failure caused by the interruption stopping the
 * bench's processes under `main` is not reported as the bench's own).
 */
export async function runBench(name: string, cleanups: Cleanup[], main: () => Promise<void>): Promise<never> {
  const teardown = cleanUpOnInterrupt(cleanups, (error) => console.error('cleanup failed:', error));
  let failed = false;
  try {
    await main();
  } catch (error) {
    if (teardown.interrupted === undefined) {
      failed = true;
      console.error(`bench ${name} failed:`, error);
    }
  } finally {
    await teardown.run();
  }
  process.exit(teardown.interrupted ?? (failed ? 1 : 0));
}
