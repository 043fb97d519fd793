// What a plugin may reach beyond its pixels, and the one door to it: the host fetch. A plugin
// declares hosts and secret names; an administrator grants them; the engine hands each step a
// `fetch` and a `secret` that enforce both lists. Everything here runs in the host (the engine's
// worker thread, or the process around a sandbox), never inside plugin code.
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, isIPv6 } from 'node:net';
import { AtelierError } from './errors.ts';
import type { Logger } from './logger.ts';
import { silentLogger } from './logger.ts';
import { untilAborted } from './pipeline-signal.ts';

/**
 * What a plugin needs beyond pixels; an administrator grants it (`atelier plugins grant`, the
 * admin API or console). A plugin that declares capabilities runs only once all of them are
 * granted.
 *
 * @example
 * capabilities: { network: ['api.openai.com'], secrets: ['OPENAI_API_KEY'] }
 */
export interface PluginCapabilities {
  /**
   * Hosts `ctx.fetch` may reach: lowercase DNS names (`api.openai.com`), IPv4 literals
   * (`127.0.0.1`), bracketed IPv6 literals (`[::1]`), or `*.example.com` for every subdomain of
   * `example.com` (not `example.com` itself). Any port; http or https.
   */
  readonly network?: readonly string[];
  /** Names of the secrets `ctx.secret` may read: `^[A-Z][A-Z0-9_]{0,63}$`, e.g. `OPENAI_API_KEY`. */
  readonly secrets?: readonly string[];
}

/** A file field of {@link HostFetchInit.form}. */
export interface HostFormFile {
  readonly data: Uint8Array;
  /** @default 'blob' */
  readonly filename?: string;
  /** @default 'application/octet-stream' */
  readonly contentType?: string;
}

/** The request options of `ctx.fetch`. */
export interface HostFetchInit {
  /** @default 'GET' (or 'POST' when `body` or `form` is given) */
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  /** multipart/form-data fields, built by the host (which also sets the Content-Type header). */
  readonly form?: Readonly<Record<string, string | HostFormFile>>;
  /**
   * Time for the whole request, redirects and body included, in ms; at most {@link MAX_FETCH_TIMEOUT_MS}.
   * @default 30000
   */
  readonly timeoutMs?: number;
}

/** What `ctx.fetch` resolves to, whatever the status: the whole body, read into memory. */
export interface HostResponse {
  readonly status: number;
  /** True for a status from 200 to 299. */
  readonly ok: boolean;
  /** Lower-case header names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON; throws `FETCH_FAILED` when it is not JSON. */
  json(): unknown;
}

/** What an admin granted one plugin, with the secret values decrypted; by plugin id in `Engine.run`. */
export interface PluginGrants {
  readonly network: readonly string[];
  readonly secrets: Readonly<Record<string, string>>;
}

/** Hostnames a plugin may declare (see {@link PluginCapabilities.network}). */
export const NETWORK_HOST_PATTERN =
  /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Secret names a plugin may declare. */
export const SECRET_NAME_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;
/** @default timeout of one host fetch */
export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
/** The longest `timeoutMs` a plugin may ask for. */
export const MAX_FETCH_TIMEOUT_MS = 120_000;
/** @default most bytes of one response body */
export const DEFAULT_FETCH_MAX_BYTES = 32 * 2 ** 20;
/** Redirects one host fetch follows, each checked like the first request. */
export const MAX_FETCH_REDIRECTS = 5;

/**
 * Why `host` is not a valid network entry, or undefined when it is. Exported for the admin
 * surfaces, which validate grants with the same rule.
 */
export function networkHostProblem(host: unknown): string | undefined {
  if (typeof host !== 'string' || host === '') return 'a host must be a non-empty string';
  if (host.startsWith('[') && host.endsWith(']')) {
    const inner = host.slice(1, -1);
    return isIPv6(inner) && inner === inner.toLowerCase() ? undefined : `"${host}" is not an IPv6 literal`;
  }
  if (host.length > 253 || !NETWORK_HOST_PATTERN.test(host)) {
    return `"${host}" is not a lowercase host name (letters, digits, "-" and ".", optionally "*." first; no scheme, port or path)`;
  }
  if (host.startsWith('*.') && !host.slice(2).includes('.')) {
    return `"${host}" is too broad: a wildcard needs a domain with at least two labels`;
  }
  return undefined;
}

/**
 * Checks the `capabilities` of a plugin definition; returns why it is malformed, or undefined.
 * `validatePlugin` turns the reason into `PLUGIN_INVALID`.
 */
export function capabilitiesProblem(capabilities: unknown): string | undefined {
  if (capabilities === undefined) return undefined;
  if (capabilities === null || typeof capabilities !== 'object' || Array.isArray(capabilities)) {
    return 'capabilities must be an object { network?, secrets? }';
  }
  const c = capabilities as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (key !== 'network' && key !== 'secrets') return `capabilities has an unknown key "${key}"`;
  }
  if (c['network'] !== undefined) {
    if (!Array.isArray(c['network'])) return 'capabilities.network must be an array of host names';
    for (const host of c['network'] as unknown[]) {
      const problem = networkHostProblem(host);
      if (problem) return `capabilities.network: ${problem}`;
    }
  }
  if (c['secrets'] !== undefined) {
    if (!Array.isArray(c['secrets'])) return 'capabilities.secrets must be an array of names';
    for (const name of c['secrets'] as unknown[]) {
      if (typeof name !== 'string' || !SECRET_NAME_PATTERN.test(name)) {
        return `capabilities.secrets: "${String(name)}" is not a secret name (${SECRET_NAME_PATTERN.source})`;
      }
    }
  }
  return undefined;
}

/** True when `hostname` (as `URL.hostname` gives it) is matched by the entry `pattern`. */
export function hostMatches(pattern: string, hostname: string): boolean {
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1); // ".example.com"
    return hostname.length > suffix.length && hostname.endsWith(suffix);
  }
  return pattern === hostname;
}

/**
 * What a plugin declares but was not granted: empty lists when everything is. The engine refuses
 * a run (and the server a job) with `CAPABILITY_NOT_GRANTED` otherwise.
 */
export function missingGrants(
  capabilities: PluginCapabilities | undefined,
  grants: PluginGrants | undefined,
): { network: string[]; secrets: string[] } {
  const network = (capabilities?.network ?? []).filter((h) => !(grants?.network ?? []).includes(h));
  const secrets = (capabilities?.secrets ?? []).filter((s) => grants?.secrets[s] === undefined);
  return { network, secrets };
}

/** The `CAPABILITY_NOT_GRANTED` error for `plugin`, naming what is missing. */
export function notGrantedError(
  plugin: string,
  missing: { network: string[]; secrets: string[] },
): AtelierError {
  const parts = [
    ...(missing.network.length > 0 ? [`network ${missing.network.join(', ')}`] : []),
    ...(missing.secrets.length > 0 ? [`secrets ${missing.secrets.join(', ')}`] : []),
  ];
  return new AtelierError(
    'CAPABILITY_NOT_GRANTED',
    `Plugin "${plugin}" needs capabilities an administrator has not granted: ${parts.join('; ')}.`,
    { details: { plugin, missingNetwork: missing.network, missingSecrets: missing.secrets } },
  );
}

// ---------------------------------------------------------------------------------------------
// Addresses

/** The 16 bytes of an IPv6 address (as `net.isIPv6` accepts it), or undefined. */
function ipv6Bytes(address: string): Uint8Array | undefined {
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (!isIPv6(text)) return undefined;
  const words: number[] = [];
  const parse = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const v4 = piece.split('.').map(Number);
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else out.push(parseInt(piece, 16));
    }
    return out;
  };
  const gap = text.indexOf('::');
  if (gap >= 0) {
    const head = parse(text.slice(0, gap));
    const tail = parse(text.slice(gap + 2));
    words.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  } else words.push(...parse(text));
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

function ipv4Bytes(address: string): Uint8Array | undefined {
  if (isIP(address) !== 4) return undefined;
  return Uint8Array.from(address.split('.').map(Number));
}

/** Why an IPv4 address is not a public unicast address, or undefined when it is. */
function ipv4Problem(b: Uint8Array): string | undefined {
  const [a, c] = [b[0]!, b[1]!];
  if (a === 0) return 'unspecified ("this network", 0.0.0.0/8)';
  if (a === 10) return 'private (10.0.0.0/8)';
  if (a === 100 && (c & 0xc0) === 64) return 'carrier-grade NAT (100.64.0.0/10)';
  if (a === 127) return 'loopback (127.0.0.0/8)';
  if (a === 169 && c === 254) return 'link-local (169.254.0.0/16)';
  if (a === 172 && (c & 0xf0) === 16) return 'private (172.16.0.0/12)';
  if (a === 192 && c === 0 && b[2] === 0) return 'IETF protocol assignments (192.0.0.0/24)';
  if (a === 192 && c === 168) return 'private (192.168.0.0/16)';
  if (a === 198 && (c & 0xfe) === 18) return 'benchmarking (198.18.0.0/15)';
  if (a >= 224 && a <= 239) return 'multicast (224.0.0.0/4)';
  if (a >= 240) return 'reserved or broadcast (240.0.0.0/4)';
  return undefined;
}

/**
 * Why the host fetch refuses to connect to `address` (an IP literal), or undefined when it is a
 * public unicast address: loopback, private (RFC 1918), carrier-grade NAT, link-local, unique
 * local, multicast, unspecified and reserved ranges, also inside IPv4-mapped, IPv4-compatible,
 * NAT64 and 6to4 IPv6 addresses. Anything that is not an IP address is refused too.
 *
 * @example
 * forbiddenAddressReason('169.254.169.254'); // 'link-local (169.254.0.0/16)'
 * forbiddenAddressReason('93.184.215.14'); // undefined
 */
export function forbiddenAddressReason(address: string): string | undefined {
  const v4 = ipv4Bytes(address);
  if (v4) return ipv4Problem(v4);
  const b = ipv6Bytes(address);
  if (!b) return 'not an IP address';
  const zeros = (from: number, to: number): boolean => b.slice(from, to).every((x) => x === 0);
  const embedded = (from: number): string | undefined => {
    const inner = ipv4Problem(b.slice(from, from + 4));
    return inner === undefined ? undefined : `IPv4 inside IPv6: ${inner}`;
  };
  if (zeros(0, 16)) return 'unspecified (::)';
  if (zeros(0, 15) && b[15] === 1) return 'loopback (::1)';
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (the deprecated compatible form) reach IPv4.
  if (zeros(0, 10) && ((b[10] === 0xff && b[11] === 0xff) || (b[10] === 0 && b[11] === 0)))
    return embedded(12);
  // 64:ff9b::/96 (NAT64) translates to the IPv4 address in its last 32 bits.
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return embedded(12);
  // 2002::/16 (6to4) carries an IPv4 address in bits 16-47.
  if (b[0] === 0x20 && b[1] === 0x02) {
    const inner = embedded(2);
    if (inner) return inner;
  }
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local (fe80::/10)';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 'site-local (fec0::/10)';
  if ((b[0]! & 0xfe) === 0xfc) return 'unique local (fc00::/7)';
  if (b[0] === 0xff) return 'multicast (ff00::/8)';
  if (b[0] === 0x01 && zeros(1, 8)) return 'discard-only (100::/64)';
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8)
    return 'documentation (2001:db8::/32)';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The host fetch

/** Options of {@link hostFetch}: who is asking, and what they may reach. */
export interface HostFetchOptions {
  /** The plugin asking, for messages and logs. */
  readonly plugin: string;
  /** Hosts the plugin declared. */
  readonly declared: readonly string[];
  /** Hosts an administrator granted it. A host must be in both lists. */
  readonly granted: readonly string[];
  /** The step's signal: aborting it aborts the request. */
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** @default {@link DEFAULT_FETCH_MAX_BYTES} */
  readonly maxBytes?: number;
  /**
   * Lets the fetch reach loopback and private addresses: for tests against a local fake server
   * only. Logs a warning the first time.
   * @default process.env.ATELIER_FETCH_ALLOW_LOOPBACK === '1'
   */
  readonly allowPrivateAddresses?: boolean;
}

let warnedPrivate = false;

function denied(message: string, details: Record<string, unknown>): AtelierError {
  return new AtelierError('CAPABILITY_DENIED', message, { details });
}

function fetchFailed(message: string, details: Record<string, unknown>, cause?: unknown): AtelierError {
  return new AtelierError('FETCH_FAILED', message, {
    details,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The address to connect to for `url`, after the allow-list and address checks. */
async function checkedAddress(
  url: URL,
  options: HostFetchOptions,
  allowPrivate: boolean,
): Promise<{ address: string; family: 4 | 6 }> {
  const plugin = options.plugin;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw denied(`Plugin "${plugin}" may fetch only http and https URLs, not ${url.protocol}.`, {
      plugin,
      reason: 'scheme',
    });
  }
  if (url.username !== '' || url.password !== '') {
    throw denied(`Plugin "${plugin}" may not put credentials in a URL; send them in a header.`, {
      plugin,
      reason: 'credentials-in-url',
    });
  }
  const hostname = url.hostname;
  const inDeclared = options.declared.some((p) => hostMatches(p, hostname));
  const inGranted = options.granted.some((p) => hostMatches(p, hostname));
  if (!inDeclared || !inGranted) {
    throw denied(
      `Plugin "${plugin}" may not fetch from ${hostname}: the host is not ${inDeclared ? 'granted by an administrator' : 'declared in its capabilities'}.`,
      { plugin, host: hostname, reason: inDeclared ? 'not-granted' : 'not-declared' },
    );
  }
  const literal = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  let addresses: LookupAddress[];
  if (isIP(literal) !== 0) addresses = [{ address: literal, family: isIP(literal) }];
  else {
    try {
      addresses = await dnsLookup(hostname, { all: true, verbatim: true });
    } catch (error) {
      throw fetchFailed(
        `Plugin "${plugin}": ${hostname} did not resolve.`,
        { plugin, host: hostname, reason: 'dns' },
        error,
      );
    }
    if (addresses.length === 0) {
      throw fetchFailed(`Plugin "${plugin}": ${hostname} has no address.`, {
        plugin,
        host: hostname,
        reason: 'dns',
      });
    }
  }
  if (!allowPrivate) {
    // Every address must be public: a name with one public and one private address could be
    // pointed at the private one by whoever controls its DNS.
    for (const { address } of addresses) {
      const reason = forbiddenAddressReason(address);
      if (reason !== undefined) {
        throw denied(
          `Plugin "${plugin}" may not fetch from ${hostname}: it resolves to a ${reason} address.`,
          { plugin, host: hostname, address, reason: 'address' },
        );
      }
    }
  } else if (!warnedPrivate) {
    warnedPrivate = true;
    (options.logger ?? silentLogger).warn(
      'ATELIER_FETCH_ALLOW_LOOPBACK=1: plugins may fetch loopback and private addresses; for tests only',
      { plugin },
    );
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

async function encodeBody(
  init: HostFetchInit,
  headers: Record<string, string>,
  plugin: string,
): Promise<Uint8Array | undefined> {
  if (init.form !== undefined && init.body !== undefined) {
    throw new AtelierError('PLUGIN_FAILED', `Plugin "${plugin}" passed both body and form to fetch.`, {
      details: { plugin },
    });
  }
  if (init.form !== undefined) {
    const form = new FormData();
    for (const [name, value] of Object.entries(init.form)) {
      if (typeof value === 'string') form.append(name, value);
      else {
        const blob = new Blob([new Uint8Array(value.data)], {
          type: value.contentType ?? 'application/octet-stream',
        });
        form.append(name, blob, value.filename ?? 'blob');
      }
    }
    // The Fetch API's own multipart encoder: Request serialises FormData with a fresh boundary.
    const encoded = new Request('http://form.invalid/', { method: 'POST', body: form });
    for (const key of Object.keys(headers)) if (key.toLowerCase() === 'content-type') delete headers[key];
    headers['content-type'] = encoded.headers.get('content-type')!;
    return new Uint8Array(await encoded.arrayBuffer());
  }
  if (init.body === undefined) return undefined;
  return typeof init.body === 'string' ? new TextEncoder().encode(init.body) : init.body;
}

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly location: string | undefined;
  readonly body: Uint8Array;
}

function headerRecord(message: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function requestOnce(
  url: URL,
  target: { address: string; family: 4 | 6 },
  method: string,
  headers: OutgoingHttpHeaders,
  body: Uint8Array | undefined,
  signal: AbortSignal,
  maxBytes: number,
  plugin: string,
  readBody: boolean,
): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-length': String(body.byteLength) },
        signal,
        // Connect to the address that was checked, not to whatever a second DNS answer says.
        lookup: (_hostname, options, callback) => {
          if ((options as { all?: boolean }).all === true) {
            (callback as (e: null, a: LookupAddress[]) => void)(null, [target]);
          } else (callback as (e: null, a: string, f: number) => void)(null, target.address, target.family);
        },
        agent: false,
      },
      (response) => {
        const location = response.headers.location;
        const status = response.statusCode ?? 0;
        if (!readBody) {
          response.resume();
          resolve({ status, headers: headerRecord(response), location, body: new Uint8Array(0) });
          return;
        }
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          reject(tooLarge(plugin, url, maxBytes));
          response.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        response.on('data', (chunk: Buffer) => {
          total += chunk.byteLength;
          if (total > maxBytes) {
            // Reject first: destroy() emits 'aborted' at once.
            reject(tooLarge(plugin, url, maxBytes));
            response.destroy();
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', reject);
        response.on('end', () => {
          const all = Buffer.concat(chunks, total);
          resolve({
            status,
            headers: headerRecord(response),
            location,
            body: new Uint8Array(all.buffer, all.byteOffset, all.byteLength),
          });
        });
        response.on('aborted', () => reject(new Error('the response was cut off')));
      },
    );
    request.on('error', reject);
    request.end(body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
}

function tooLarge(plugin: string, url: URL, maxBytes: number): AtelierError {
  return fetchFailed(
    `Plugin "${plugin}": the response from ${url.hostname} is larger than ${maxBytes} bytes.`,
    { plugin, host: url.hostname, reason: 'too-large', maxBytes },
  );
}

function makeResponse(raw: RawResponse, plugin: string): HostResponse {
  return {
    status: raw.status,
    ok: raw.status >= 200 && raw.status <= 299,
    headers: raw.headers,
    body: raw.body,
    text: () => new TextDecoder().decode(raw.body),
    json: () => {
      try {
        return JSON.parse(new TextDecoder().decode(raw.body)) as unknown;
      } catch (error) {
        throw fetchFailed(
          `Plugin "${plugin}": the response (status ${raw.status}) is not JSON.`,
          {
            plugin,
            status: raw.status,
            reason: 'invalid-json',
          },
          error,
        );
      }
    },
  };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Request headers a plugin may not set. */
const HOST_OWNED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
]);
/** Headers that carry credentials: dropped when a redirect leaves the origin, like browsers do. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * The host fetch behind `ctx.fetch`: an HTTP(S) request from the host on a plugin's behalf. The
 * URL's host must be both declared by the plugin and granted by an administrator, and every
 * address it resolves to must be public (no loopback, private, link-local, unique-local, multicast
 * or unspecified address, also in IPv4-mapped form), else `CAPABILITY_DENIED`; the connection goes
 * to the very address that was checked. Redirects are followed (at most
 * {@link MAX_FETCH_REDIRECTS}) only through the same checks; credentials headers are dropped when
 * a redirect changes origin. A timeout, a body over `maxBytes` or a network failure rejects with
 * `FETCH_FAILED`; an aborted step signal rejects with the signal's reason. Never logs headers.
 *
 * @example
 * const res = await hostFetch('https://api.example.com/v1/x', { method: 'POST', body: '{}' }, {
 *   plugin: 'acme:x', declared: ['api.example.com'], granted: ['api.example.com'],
 * });
 */
export async function hostFetch(
  input: string,
  init: HostFetchInit = {},
  options: HostFetchOptions,
): Promise<HostResponse> {
  const plugin = options.plugin;
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw denied(`Plugin "${plugin}" asked to fetch a malformed URL.`, { plugin, reason: 'url' });
  }
  const requested = init.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  if (!Number.isFinite(requested) || requested <= 0) {
    throw new AtelierError('PLUGIN_FAILED', `Plugin "${plugin}" passed an invalid fetch timeoutMs.`, {
      details: { plugin },
    });
  }
  const timeoutMs = Math.min(requested, MAX_FETCH_TIMEOUT_MS);
  const maxBytes = options.maxBytes ?? DEFAULT_FETCH_MAX_BYTES;
  const allowPrivate = options.allowPrivateAddresses ?? process.env['ATELIER_FETCH_ALLOW_LOOPBACK'] === '1';
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(init.headers ?? {})) {
    const lower = name.toLowerCase();
    // The host sets these: a plugin's own Host header would reach another site behind the
    // granted address (a shared CDN), and framing headers are the HTTP client's business.
    if (HOST_OWNED_HEADERS.has(lower)) continue;
    headers[lower] = value;
  }
  let body = await encodeBody(init, headers, plugin);
  let method = (init.method ?? (body === undefined ? 'GET' : 'POST')).toUpperCase();
  try {
    for (let hop = 0; ; hop++) {
      signal.throwIfAborted();
      // DNS has no abort of its own: the timeout and the step's signal must not wait for it.
      const target = await untilAborted(checkedAddress(url, options, allowPrivate), signal);
      signal.throwIfAborted();
      const raw = await requestOnce(url, target, method, headers, body, signal, maxBytes, plugin, true);
      if (!REDIRECTS.has(raw.status) || raw.location === undefined) return makeResponse(raw, plugin);
      if (hop >= MAX_FETCH_REDIRECTS) {
        throw fetchFailed(`Plugin "${plugin}": more than ${MAX_FETCH_REDIRECTS} redirects.`, {
          plugin,
          reason: 'redirects',
        });
      }
      let next: URL;
      try {
        next = new URL(raw.location, url);
      } catch {
        throw fetchFailed(`Plugin "${plugin}": a redirect from ${url.hostname} has a malformed Location.`, {
          plugin,
          reason: 'redirect-location',
        });
      }
      if (next.origin !== url.origin) for (const name of CREDENTIAL_HEADERS) delete headers[name];
      if (raw.status === 303 || ((raw.status === 301 || raw.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
        delete headers['content-type'];
      }
      url = next;
    }
  } catch (error) {
    if (options.signal?.aborted === true) throw options.signal.reason as Error;
    if (error instanceof AtelierError) throw error;
    if (timeout.aborted) {
      throw fetchFailed(
        `Plugin "${plugin}": the request to ${url.hostname} took longer than ${timeoutMs} ms.`,
        { plugin, host: url.hostname, reason: 'timeout', timeoutMs },
        error,
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    throw fetchFailed(
      `Plugin "${plugin}": the request to ${url.hostname} failed: ${message}`,
      { plugin, host: url.hostname, reason: 'network' },
      error,
    );
  }
}

/** The capability half of a plugin's context: `fetch`, `secret`. */
export interface CapabilityAccess {
  fetch(url: string, init?: HostFetchInit): Promise<HostResponse>;
  secret(name: string): string;
}

/**
 * Builds `ctx.fetch` and `ctx.secret` for one step of `plugin` from what it declared and what was
 * granted to it. Used by the engine's worker threads and by hosts that run plugins elsewhere (the
 * sandbox); the same rules apply to both.
 */
export function capabilityAccess(args: {
  readonly plugin: string;
  readonly capabilities: PluginCapabilities | undefined;
  readonly grants: PluginGrants | undefined;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  readonly maxBytes?: number;
}): CapabilityAccess {
  const { plugin, capabilities, grants } = args;
  const declared = capabilities?.network ?? [];
  const granted = grants?.network ?? [];
  return {
    fetch: (url, init) =>
      hostFetch(url, init, {
        plugin,
        declared,
        granted,
        ...(args.signal ? { signal: args.signal } : {}),
        ...(args.logger ? { logger: args.logger } : {}),
        ...(args.maxBytes === undefined ? {} : { maxBytes: args.maxBytes }),
      }),
    secret: (name) => {
      if (!(capabilities?.secrets ?? []).includes(name)) {
        throw denied(`Plugin "${plugin}" did not declare the secret ${String(name)}.`, {
          plugin,
          secret: String(name),
          reason: 'not-declared',
        });
      }
      const value = grants?.secrets[name];
      if (value === undefined) {
        throw denied(`Plugin "${plugin}" was not granted the secret ${name}.`, {
          plugin,
          secret: name,
          reason: 'not-granted',
        });
      }
      return value;
    },
  };
}

/**
 * Replaces every secret value of `grants` found in `text` with `[redacted]`: for log lines and
 * error messages that leave a run, so that a plugin cannot echo its secret into them.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out;
}
