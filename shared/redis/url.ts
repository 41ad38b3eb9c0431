import { ConfigError } from '../errors/index.js';

/** The parts of a `redis://` or `rediss://` URL, with `name` safe for logs. */
export interface RedisEndpoint {
  /** Host name or IP address; IPv6 addresses without brackets. */
  host: string;
  /** @default 6379 */
  port: number;
  /** ACL user name (percent-decoded), when the URL has one. */
  username?: string;
  /** Password (percent-decoded), when the URL has one. Never log it: use `name`. */
  password?: string;
  /** Database number from the path. @default 0 */
  db: number;
  /** True for `rediss://`. */
  tls: boolean;
  /** The normalized URL with the password replaced by `***`: `redis://user:***@host:6379/0`. */
  name: string;
}

const DEFAULT_PORT = 6379;
const REDACTED = '***';

/**
 * Replaces the password of a Redis URL with `***`, also in strings that are not valid URLs. Everything up to the
 * last `@` after the scheme counts as credentials, so an unencoded `@`, `/` or `#` in a password is still hidden.
 *
 * @example
 * redactUrl('redis://loader:s3cret@10.0.0.5:6379/2'); // 'redis://loader:***@10.0.0.5:6379/2'
 */
export function redactUrl(url: string): string {
  const schemeEnd = url.indexOf('://');
  const authStart = schemeEnd === -1 ? 0 : schemeEnd + 3;
  const at = url.lastIndexOf('@');
  if (at < authStart) return url;
  const userinfo = url.slice(authStart, at);
  const colon = userinfo.indexOf(':');
  const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
  // Without a colon the whole userinfo may be a password written where the user belongs: hide it too.
  const shown = colon === -1 ? REDACTED : `${user}:${REDACTED}`;
  return `${url.slice(0, authStart)}${shown}${url.slice(at)}`;
}

function decode(part: string, what: string, safeUrl: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ConfigError(`Redis URL ${safeUrl}: the ${what} is not valid percent-encoding`);
  }
}

/**
 * Parses `redis://[user[:password]@]host[:port][/db]` or `rediss://…` (TLS). User and password are
 * percent-decoded. Throws a {@link ConfigError} naming the problem for anything else (unknown scheme, missing
 * host, bad port or db, query string); the message never contains the password.
 *
 * @example
 * parseRedisUrl('rediss://loader:p%40ss@cache.example.com:6380/2');
 * // { host: 'cache.example.com', port: 6380, username: 'loader', password: 'p@ss', db: 2, tls: true,
 * //   name: 'rediss://loader:***@cache.example.com:6380/2' }
 */
export function parseRedisUrl(url: string): RedisEndpoint {
  const safeUrl = redactUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL error's message and input carry the raw URL, so it is not kept as the cause.
    throw new ConfigError(
      `invalid Redis URL ${safeUrl}: expected redis://[user[:password]@]host[:port][/db]`,
    );
  }
  const scheme = parsed.protocol;
  if (scheme !== 'redis:' && scheme !== 'rediss:') {
    throw new ConfigError(`Redis URL ${safeUrl}: unknown scheme '${scheme}', expected redis:// or rediss://`);
  }
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  if (host === '') throw new ConfigError(`Redis URL ${safeUrl}: missing host`);
  const port = parsed.port === '' ? DEFAULT_PORT : Number(parsed.port);
  if (port === 0) throw new ConfigError(`Redis URL ${safeUrl}: port must be between 1 and 65535`);
  const path = parsed.pathname;
  const dbText = path === '' || path === '/' ? '0' : path.slice(1);
  if (!/^\d{1,5}$/.test(dbText)) {
    throw new ConfigError(
      `Redis URL ${safeUrl}: the path must be empty or /<db> with a non-negative integer db`,
    );
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new ConfigError(`Redis URL ${safeUrl}: query strings and fragments are not supported`);
  }
  const username = parsed.username === '' ? undefined : decode(parsed.username, 'user name', safeUrl);
  const password = parsed.password === '' ? undefined : decode(parsed.password, 'password', safeUrl);
  if (username !== undefined && password === undefined) {
    throw new ConfigError(
      `Redis URL ${safeUrl} has a user name but no password: write redis://user:password@host, or redis://:password@host for a password alone`,
    );
  }
  const tls = scheme === 'rediss:';
  const db = Number(dbText);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const credentials = password === undefined ? '' : `${parsed.username}:${REDACTED}@`;
  const name = `${scheme}//${credentials}${shownHost}:${port}/${db}`;
  return { host, port, username, password, db, tls, name };
}

/** The parts of an Upstash REST URL (`https://<host>`, or `http://<host>:<port>` for a local or proxied endpoint). */
export interface RestEndpoint {
  /** The base every request path is appended to, without a trailing slash: `https://eu1-cat-1.upstash.io`. */
  base: string;
  /** The same, for logs; a REST URL never carries credentials (the token is sent as a header). */
  name: string;
}

/** Whether `url` names an Upstash REST endpoint (`http://` or `https://`) rather than a Redis server. */
export function isRestUrl(url: string): boolean {
  return /^https?:\/\//i.test(url.trim());
}

/**
 * Parses an Upstash REST URL: `https://host[:port][/path]` or `http://…`. Credentials, query strings
 * (Upstash's `?_token=`) and fragments are refused with a {@link ConfigError}, so a token never sits in a
 * URL that ends up in a log: it comes from `UPSTASH_REDIS_REST_TOKEN` instead.
 *
 * @example
 * parseRestUrl('https://eu1-cat-1.upstash.io/'); // { base: 'https://eu1-cat-1.upstash.io', name: 'https://eu1-cat-1.upstash.io' }
 */
export function parseRestUrl(url: string): RestEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new ConfigError(
      `invalid Upstash REST URL ${redactUrl(url.split('?')[0]!)}: expected https://<host>`,
    );
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ConfigError(
      `Upstash REST URL ${redactUrl(url.split('?')[0]!)}: unknown scheme '${parsed.protocol}', expected https:// or http://`,
    );
  }
  const origin = `${parsed.protocol}//${parsed.host}`;
  if (parsed.username !== '' || parsed.password !== '' || parsed.search !== '' || parsed.hash !== '') {
    throw new ConfigError(
      `Upstash REST URL ${origin}: credentials, query strings and fragments are not taken; give the token in UPSTASH_REDIS_REST_TOKEN`,
    );
  }
  const base = `${origin}${parsed.pathname.replace(/\/+$/, '')}`;
  return { base, name: base };
}
