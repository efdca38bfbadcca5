/**
 * Replay output as UTF-8 bytes: the same bytes as `formatEvent(e) + '\n'` for every event,
 * written digit by digit into one reused buffer that is handed to a sink whenever it fills.
 *
 * Why: on a million-line replay, a string per line (and the rope nodes template literals
 * build) was a third of the garbage-collection time, and holding the output as fresh
 * ArrayBuffers made V8 run a full collection every few megabytes. The sink decides where
 * bytes go (the CLI spools them to a file). Pure: Uint8Array and TextEncoder only.
 */
import { civilFromDays, formatIsoInstant, MS_PER_DAY, MS_PER_HOUR, SHANGHAI_OFFSET_MS } from './time.ts';
import type { EngineEvent, Instant } from './types.ts';

const utf8 = new TextEncoder();
const OFFSET = [43, 48, 56, 58, 48, 48]; // '+08:00'

export class EventEncoder {
  private buf: Uint8Array;
  private pos = 0;
  /** 'YYYY-MM-DD' bytes by Shanghai day number: a timeline spans a few hundred days. */
  private readonly days = new Map<number, Uint8Array>();

  /**
   * @param sink receives each full chunk; the bytes are only valid during the call (the
   *   buffer is reused), so a sink that keeps them must copy.
   */
  constructor(
    private readonly sink: (bytes: Uint8Array) => void,
    chunkSize = 1 << 20,
  ) {
    this.buf = new Uint8Array(chunkSize);
  }

  /** Append one event as a JSONL line. */
  push(e: EngineEvent): void {
    this.ascii('{"event":"');
    this.ascii(e.event);
    this.ascii('","at":"');
    this.instant(e.at);
    switch (e.event) {
      case 'started':
      case 'breached':
      case 'warning':
      case 'met':
        this.subject(e);
        this.ascii(',"clock":"');
        this.ascii(e.clock);
        this.ascii('","due":"');
        this.instant(e.due);
        if (e.event === 'warning') {
          this.ascii('","elapsed":');
          this.ascii(JSON.stringify(e.elapsed));
          this.ascii('}\n');
        } else if (e.event === 'met') {
          this.ascii('","respondedAt":"');
          this.instant(e.respondedAt);
          this.ascii(e.late ? '","late":true}\n' : '","late":false}\n');
        } else this.ascii('"}\n');
        return;
      case 'rescheduled':
      case 'breach_retracted':
        this.subject(e);
        this.ascii(',"clock":"');
        this.ascii(e.clock);
        this.ascii('","due":"');
        this.instant(e.due);
        this.ascii('"}\n');
        return;
      case 'cancelled':
      case 'waived':
        this.ascii('","incident":');
        this.string(e.incident);
        this.ascii(',"clock":"');
        this.ascii(e.clock);
        this.ascii('","reason":');
        this.string(e.reason);
        this.ascii('}\n');
        return;
      case 'nonqualifying_response':
        this.ascii('","incident":');
        this.string(e.incident);
        this.ascii(',"kind":"');
        this.ascii(e.kind);
        this.ascii('","reason":');
        this.string(e.reason);
        this.ascii('}\n');
        return;
      case 'extended':
      case 'extend_rejected':
      case 'suspended':
      case 'resumed':
      case 'suspend_rejected':
      case 'resume_rejected':
        this.ascii('","obligation":');
        this.string(e.obligation);
        this.ascii(',"clock":"');
        this.ascii(e.clock);
        if (e.event === 'extended') {
          this.ascii('","due":"');
          this.instant(e.due);
          this.ascii('"}\n');
        } else if (e.event === 'suspended' || e.event === 'resumed') {
          // Live-only events (not in replay.md yet), as formatEvent writes them.
          this.ascii('","due":"');
          this.instant(e.due);
          this.ascii('","reason":"');
          this.ascii(e.reason);
          if (e.event === 'suspended') {
            this.ascii('","remainingWorkingDays":');
            this.ascii(String(e.remainingWorkingDays));
            this.ascii('}\n');
          } else this.ascii('"}\n');
        } else {
          this.ascii('","reason":');
          this.string(e.reason);
          this.ascii('}\n');
        }
        return;
      default: {
        const never: never = e;
        throw new Error(`unknown event ${JSON.stringify(never)}`);
      }
    }
  }

  /** Hand what is buffered to the sink. */
  flush(): void {
    if (this.pos > 0) this.sink(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  private subject(e: { incident?: string; obligation?: string }): void {
    if (e.incident !== undefined) {
      this.ascii('","incident":');
      this.string(e.incident);
    } else {
      this.ascii('","obligation":');
      this.string(e.obligation ?? '');
    }
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = new Uint8Array(n);
  }

  /** Text known to be ASCII (event names, clock kinds, punctuation, numbers). */
  private ascii(s: string): void {
    this.room(s.length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  /** A JSON string literal, exactly as JSON.stringify writes it, in UTF-8. */
  private string(s: string): void {
    // Ids are usually plain printable ASCII: no escaping, one byte per char.
    this.room(s.length + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 34;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 34 || c === 92) return this.escaped(s);
      buf[p++] = c;
    }
    buf[p++] = 34;
    this.pos = p;
  }

  private escaped(s: string): void {
    const quoted = JSON.stringify(s);
    this.room(quoted.length * 3);
    const { written } = utf8.encodeInto(quoted, this.buf.subarray(this.pos));
    this.pos += written;
  }

  /** formatIsoInstant's text, digit by digit. */
  private instant(at: Instant): void {
    this.room(29);
    const t = Math.floor(at) + SHANGHAI_OFFSET_MS;
    const day = Math.floor(t / MS_PER_DAY);
    let rem = t - day * MS_PER_DAY;
    let date = this.days.get(day);
    if (date === undefined) {
      const [y, m, d] = civilFromDays(day);
      // Outside four-digit years formatIsoInstant uses the expanded form; rare enough to defer.
      if (y < 0 || y > 9999) return this.ascii(formatIsoInstant(at));
      date = new Uint8Array(10);
      date[0] = 48 + Math.floor(y / 1000);
      date[1] = 48 + (Math.floor(y / 100) % 10);
      date[2] = 48 + (Math.floor(y / 10) % 10);
      date[3] = 48 + (y % 10);
      date[4] = 45;
      date[5] = 48 + Math.floor(m / 10);
      date[6] = 48 + (m % 10);
      date[7] = 45;
      date[8] = 48 + Math.floor(d / 10);
      date[9] = 48 + (d % 10);
      if (this.days.size > 100_000) this.days.clear();
      this.days.set(day, date);
    }
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < 10; i++) buf[p++] = date[i]!;
    const h = Math.floor(rem / MS_PER_HOUR);
    rem -= h * MS_PER_HOUR;
    const mi = Math.floor(rem / 60_000);
    rem -= mi * 60_000;
    const s = Math.floor(rem / 1000);
    const ms = rem - s * 1000;
    buf[p++] = 84; // T
    buf[p++] = 48 + Math.floor(h / 10);
    buf[p++] = 48 + (h % 10);
    buf[p++] = 58;
    buf[p++] = 48 + Math.floor(mi / 10);
    buf[p++] = 48 + (mi % 10);
    buf[p++] = 58;
    buf[p++] = 48 + Math.floor(s / 10);
    buf[p++] = 48 + (s % 10);
    buf[p++] = 46;
    buf[p++] = 48 + Math.floor(ms / 100);
    buf[p++] = 48 + (Math.floor(ms / 10) % 10);
    buf[p++] = 48 + (ms % 10);
    for (let i = 0; i < 6; i++) buf[p++] = OFFSET[i]!;
    this.pos = p;
  }
}
