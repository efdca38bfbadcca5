/**
 * One keep-alive HTTP/1.1 connection, one request at a time, on a bare socket: what the load
 * generator's closed loop needs and nothing more. node:http's client cost ≈ 0.3 ms of CPU per
 * request in bench/tickets-single.ts (seven times pgbench's client per transaction), CPU taken from
 * the 2 cores the system under test runs on. Answers must carry Content-Length (Fastify's do).
 */
import { connect, type Socket } from 'node:net';

const HEAD_END = Buffer.from('\r\n\r\n');

export class RawConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (status: number) => void; reject: (e: unknown) => void } | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly head: string,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.answer();
    });
    const fail = (error: unknown) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  /** A connection to `url` whose requests are POSTs to its path with these headers. */
  static open(url: URL, headers: Record<string, string>): Promise<RawConnection> {
    const lines = Object.entries({ host: url.host, connection: 'keep-alive', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
    const head = `POST ${url.pathname}${url.search} HTTP/1.1\r\n${lines.join('')}`;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: url.hostname, port: Number(url.port || 80) }, () => resolve(new RawConnection(socket, head)));
      socket.once('error', reject);
    });
  }

  /** POST `body` (UTF-8); resolves with the status once the whole answer has arrived. */
  post(body: string): Promise<number> {
    if (this.waiting) return Promise.reject(new Error('one request at a time'));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(`${this.head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private answer(): void {
    const end = this.buffered.indexOf(HEAD_END);
    if (end < 0 || !this.waiting) return;
    const head = this.buffered.toString('latin1', 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) {
      this.waiting.reject(new Error(`answer without content-length: ${head.slice(0, 200)}`));
      this.waiting = undefined;
      return;
    }
    const total = end + HEAD_END.length + Number(length[1]);
    if (this.buffered.length < total) return;
    this.buffered = this.buffered.subarray(total);
    const w = this.waiting;
    this.waiting = undefined;
    w.resolve(Number(head.slice(9, 12)));
  }
}
