import type { Bus } from '@huiying/bus';
import type { Clock } from '@huiying/clock';
import type { Db } from '@huiying/db';
import type { CalendarService, EngineDeps, RulePackHolder } from '@huiying/engine';
import type { ListCache, SentPage } from '../list-cache.ts';
import type { LiveFeed } from '../live.ts';

/** What the route modules share; each takes what it needs. */
export interface RouteDeps {
  db: Db;
  bus: Bus;
  /** Domain time (scaled in a drill, fake in tests). */
  clock: Clock & { scale?: number };
  /** Wall-clock time for sessions and tokens. */
  realClock: Clock;
  engine: EngineDeps;
  /** The rule pack in force and where it comes from; the engine deps' `pack` asks it. */
  rulePacks: RulePackHolder;
  calendars: CalendarService;
  live: LiveFeed;
  /** Cached board pages (see list-cache.ts). */
  boardCache: ListCache<SentPage>;
  /** Wakes the dispatcher in this process after notifications are queued again (else it finds them at its next poll). */
  onNotificationsQueued?: () => void;
}
