/**
 * The timer thread itself (started by timer-thread.ts): its own pool and LISTEN, the system
 * clock, and the same host as the inline timer (timer-host.ts). It starts no clock and applies
 * no command, so it has no rule pack.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '@huiying/clock';
import { logSerializers } from '@huiying/config';
import { openPostgres } from '@huiying/db';
import pino from 'pino';
import { hostDeadlineTimer } from './timer-host.ts';
import type { FromTimerThread, TimerThreadData, ToTimerThread } from './timer-thread.ts';

const port = parentPort;
if (!port) throw new Error('timer-thread-entry.ts runs as a worker thread (timer-thread.ts starts it)');
const data = workerData as TimerThreadData;
const send = (m: FromTimerThread) => port.postMessage(m);
const logger = pino({ level: data.logLevel, name: data.logName, serializers: logSerializers }).child({ thread: 'timer' });
const handle = openPostgres(data.databaseUrl, { max: data.poolSize });
const host = await hostDeadlineTimer(
  {
    db: handle.db,
    clock: systemClock,
    pack: () => {
      throw new Error('the timer thread starts no clock: it has no rule pack');
    },
    ...(data.ladder ? { ladder: data.ladder } : {}),
    logger,
  },
  handle.listen,
  {
    resyncMs: data.resyncMs,
    // Measured here, at COMMIT's return on this thread; only reported through the main thread.
    onCommitted: (lateness) => send({ type: 'committed', lateness: [...lateness] }),
    ...(data.reportFired ? { onFired: (count: number) => send({ type: 'fired', count }) } : {}),
  },
);

port.on('message', (m: ToTimerThread) => {
  switch (m.type) {
    case 'nudge':
      host.nudge(m.at);
      return;
    case 'rearm':
      host.rearm().then(
        () => send({ type: 'rearmed', id: m.id }),
        (error: unknown) => send({ type: 'rearmed', id: m.id, error: String(error) }),
      );
      return;
    case 'stop':
      void (async () => {
        await host.stop();
        await handle.close();
        send({ type: 'stopped' });
        logger.flush();
        // Nothing is left on this thread's loop: closing the port lets it end.
        port.close();
      })();
      return;
  }
});
send({ type: 'ready' });
