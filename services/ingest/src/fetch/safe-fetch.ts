import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { AddressPolicy } from './address-policy.ts';
import type { HostLimiter } from './host-limiter.ts';

export type FetchErrorCode =
  'bad_url' | 'blocked_address' | 'dns' | 'network' | 'timeout' | 'too_many_redirects' | 'too_large' | 'http_status' | 'bad_encoding';

/** A fetch that failed, with a stable code and a one-line reason fit for an operator. */
export class FetchError extends Error {
  override name = 'FetchError';
  constructor(
    readonly code: FetchErrorCode,
    message: string,
    /** Worth retrying: a network hiccup, a timeout, a 5xx, 408 or 429. */
    readonly transient = false,
  ) {
    super(message);
  }
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

export interface FetchPolicy {
  /** Addresses that may be connected to (default: globally routable unicast only). */
  addresses: AddressPolicy;
  maxRedirects: number;
  /** From starting a connection to the TCP (and TLS) handshake being done. */
  connectTimeoutMs: number;
  /** Longest silence while waiting for headers or body bytes. */
  readTimeoutMs: number;
  /** The whole fetch including redirects, per attempt. */
  totalTimeoutMs: number;
  /** Body size limit, counted both on the wire and after decompression. */
  maxBytes: number;
  /** Extra attempts after a transient failure, with exponential backoff from `backoffMs`. */
  retries: number;
  backoffMs: number;
  userAgent: string;
}

export const DEFAULT_FETCH_POLICY: FetchPolicy = {
  addresses: new AddressPolicy(),
  maxRedirects: 5,
  connectTimeoutMs: 5_000,
  readTimeoutMs: 10_000,
  totalTimeoutMs: 30_000,
  maxBytes: 5 * 1024 * 1024,
  retries: 2,
  backoffMs: 1_000,
  userAgent: 'Huiying/0.1 (government public-opinion response monitor)',
};

export interface FetchDeps {
  /** DNS resolution (every address of a host); injected in tests. */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
  /** Waiting between retries; tests pass one that does not wait. */
  sleep?: (ms: number) => Promise<void>;
  /** Politeness: a bound on concurrent requests per host, shared by every fetch of a poller. */
  limiter?: HostLimiter;
}

export interface FetchRequest {
  url: string;
  headers?: Record<string, string>;
}

export interface FetchResult {
  /** The URL the body came from, after redirects. */
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Every URL requested, in order (the first is the one asked for). */
  hops: string[];
  /** The address connected to on the last hop. */
  address: string;
  attempts: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

const defaultResolve = async (hostname: string): Promise<ResolvedAddress[]> => {
  try {
    return await dnsLookup(hostname, { all: true, verbatim: true });
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'error';
    throw new FetchError('dns', `cannot resolve ${hostname} (${code})`, code === 'EAI_AGAIN');
  }
};

/**
 * GET a URL under the feed fetching policy: every hop's host is resolved, every resolved
 * address checked, and the connection made to exactly the address checked (no second DNS
 * lookup between the check and the connect, so DNS rebinding has no gap). Redirects are
 * bounded; bodies are limited while streaming (compressed and decompressed); transient
 * failures are retried with backoff.
 */
export async function safeFetch(
  request: FetchRequest,
  policy: FetchPolicy = DEFAULT_FETCH_POLICY,
  deps: FetchDeps = {},
): Promise<FetchResult> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let first: URL;
  try {
    first = new URL(request.url);
  } catch {
    throw new FetchError('bad_url', `not a URL: ${request.url.slice(0, 200)}`);
  }
  const run = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return { ...(await fetchFollowing(first, request.headers ?? {}, policy, deps)), attempts: attempt };
      } catch (error) {
        const e = asFetchError(error);
        if (!e.transient || attempt > policy.retries) throw e;
        await sleep(policy.backoffMs * 2 ** (attempt - 1));
      }
    }
  };
  return deps.limiter ? deps.limiter.run(first.hostname, run) : run();
}

async function fetchFollowing(
  start: URL,
  headers: Record<string, string>,
  policy: FetchPolicy,
  deps: FetchDeps,
): Promise<Omit<FetchResult, 'attempts'>> {
  const deadline = Date.now() + policy.totalTimeoutMs;
  const hops: string[] = [];
  let url = start;
  for (;;) {
    hops.push(url.href);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new FetchError('bad_url', `unsupported scheme ${url.protocol} in ${url.href}`);
    if (url.username || url.password) throw new FetchError('bad_url', 'credentials in feed URLs are not accepted');
    const target = await resolveChecked(url, policy.addresses, deps.resolve ?? defaultResolve);
    const { response, body } = await requestOnce(url, target, headers, policy, deadline);
    const status = response.statusCode ?? 0;
    if (REDIRECTS.has(status)) {
      const location = response.headers.location;
      if (!location) throw new FetchError('http_status', `HTTP ${status} without a Location header`);
      if (hops.length > policy.maxRedirects) throw new FetchError('too_many_redirects', `more than ${policy.maxRedirects} redirects`);
      try {
        url = new URL(location, url);
      } catch {
        throw new FetchError('bad_url', `redirect to an invalid URL: ${location.slice(0, 200)}`);
      }
      continue;
    }
    if (status >= 200 && status < 300)
      return { url: url.href, status, headers: response.headers, body: body!, hops, address: target.address };
    if (status === 304) return { url: url.href, status, headers: response.headers, body: Buffer.alloc(0), hops, address: target.address };
    throw new FetchError('http_status', `HTTP ${status} from ${url.host}`, status >= 500 || status === 408 || status === 429);
  }
}

async function resolveChecked(
  url: URL,
  addresses: AddressPolicy,
  resolve: (h: string) => Promise<ResolvedAddress[]>,
): Promise<ResolvedAddress> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const found = await resolve(hostname);
  if (found.length === 0) throw new FetchError('dns', `cannot resolve ${hostname} (no address)`);
  // Every address must pass: a host answering with one public and one private address is
  // refused outright rather than trusting which one the connection would pick.
  for (const a of found) {
    const refusal = addresses.refusal(a.address);
    if (refusal !== null)
      throw new FetchError('blocked_address', `${hostname} resolves to ${a.address} (${refusal}), which is not allowed for feeds`);
  }
  return found[0]!;
}

function requestOnce(
  url: URL,
  target: ResolvedAddress,
  headers: Record<string, string>,
  policy: FetchPolicy,
  deadline: number,
): Promise<{ response: IncomingMessage; body: Buffer | undefined }> {
  // Connect to the address that was checked: the lookup hook hands it to the socket.
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: ResolvedAddress[]) => void)(null, [target]);
    else callback(null, target.address, target.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const fail = (error: FetchError) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      req.destroy();
      reject(error);
    };
    const done = (value: { response: IncomingMessage; body: Buffer | undefined }) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      resolve(value);
    };
    const req = client.request(url, {
      method: 'GET',
      lookup,
      agent: false,
      headers: {
        'user-agent': policy.userAgent,
        accept: 'application/rss+xml, application/atom+xml, application/xml, text/xml;q=0.9, */*;q=0.5',
        'accept-encoding': 'gzip, deflate, br',
        ...headers,
      },
    });
    const remaining = Math.max(1, deadline - Date.now());
    timers.push(
      setTimeout(() => fail(new FetchError('timeout', `no complete response within ${policy.totalTimeoutMs} ms`, true)), remaining),
    );
    timers.push(
      setTimeout(
        () => fail(new FetchError('timeout', `no connection to ${url.host} within ${policy.connectTimeoutMs} ms`, true)),
        policy.connectTimeoutMs,
      ),
    );
    req.on('socket', (socket) => {
      const connected = () => clearTimeout(timers[1]);
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    });
    req.setTimeout(policy.readTimeoutMs, () =>
      fail(new FetchError('timeout', `${url.host} sent nothing for ${policy.readTimeoutMs} ms`, true)),
    );
    req.on('error', (error) => fail(networkError(error)));
    req.on('response', (response) => {
      clearTimeout(timers[1]);
      const status = response.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        // The body of a redirect or an error is not needed: close the connection rather than
        // drain it (a hostile server can send an endless one).
        done({ response, body: undefined });
        req.destroy();
        return;
      }
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > policy.maxBytes) {
        fail(new FetchError('too_large', `body of ${declared} bytes exceeds the limit of ${policy.maxBytes}`));
        return;
      }
      let wire = 0;
      response.on('data', (chunk: Buffer) => {
        wire += chunk.length;
        if (wire > policy.maxBytes) fail(new FetchError('too_large', `body exceeds the limit of ${policy.maxBytes} bytes`));
      });
      let decoded: Readable;
      try {
        decoded = decompress(response);
      } catch (error) {
        fail(asFetchError(error));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      decoded.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > policy.maxBytes) {
          fail(new FetchError('too_large', `decompressed body exceeds the limit of ${policy.maxBytes} bytes`));
          decoded.destroy();
          return;
        }
        chunks.push(chunk);
      });
      decoded.on('error', (error) =>
        fail(decoded === response ? networkError(error) : new FetchError('bad_encoding', `cannot decompress the body: ${error.message}`)),
      );
      response.on('aborted', () => fail(new FetchError('network', `${url.host} closed the connection mid-body`, true)));
      decoded.on('end', () => done({ response, body: Buffer.concat(chunks) }));
    });
    req.end();
  });
}

function decompress(response: IncomingMessage): Readable {
  const encoding = String(response.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  switch (encoding) {
    case 'identity':
    case '':
      return response;
    case 'gzip':
    case 'x-gzip':
      return response.pipe(zlib.createGunzip());
    case 'deflate':
      // Servers send both zlib-wrapped and raw deflate under this name; unzip accepts either header.
      return response.pipe(zlib.createUnzip());
    case 'br':
      return response.pipe(zlib.createBrotliDecompress());
    default:
      throw new FetchError('bad_encoding', `unsupported content-encoding ${encoding}`);
  }
}

function networkError(error: Error): FetchError {
  const code = (error as { code?: string }).code ?? 'error';
  return new FetchError('network', `${code}: ${error.message}`.slice(0, 300), true);
}

function asFetchError(error: unknown): FetchError {
  if (error instanceof FetchError) return error;
  return error instanceof Error ? networkError(error) : new FetchError('network', String(error), true);
}
