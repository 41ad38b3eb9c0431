import { readFile } from 'node:fs/promises';
import type tls from 'node:tls';
import type { Command } from 'commander';
import { ConfigError } from '../shared/errors/index.js';

/** The TLS flags of the commands that connect to Redis. */
export interface TlsFlags {
  tlsCa?: string;
  tlsServername?: string;
}

/** Help text shared by the commands that take the TLS flags. */
export const TLS_HELP = `
TLS: rediss:// URLs connect over TLS and check the server's certificate against the system's CAs, or
against --tls-ca (env REDIS_TLS_CA: a PEM file). --tls-servername checks the certificate against that name
instead of the URL's host (when connecting by IP address or through a tunnel). A certificate that fails the
check, or a plain-text port reached with rediss://, fails at once with a message that says so, never retried.`;

/** Adds `--tls-ca` and `--tls-servername` to a command. */
export function addTlsOptions(command: Command): Command {
  return command
    .option('--tls-ca <file>', 'rediss://: trust the CA certificate(s) in this PEM file (env REDIS_TLS_CA)')
    .option('--tls-servername <name>', "rediss://: check the server's certificate against this name");
}

/**
 * The `tls.connect` options of the TLS flags (the CA read from its file), or undefined when none is given.
 * Given explicitly with no `rediss://` URL among `urls`, a TLS flag is an error: the connection would be plain
 * text. `REDIS_TLS_CA` applies only when the flag is absent, and silently to plain URLs.
 *
 * @throws {ConfigError} for an unreadable or non-PEM CA file, or a TLS flag without a rediss:// URL.
 */
export async function tlsOptions(
  flags: TlsFlags,
  urls: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<tls.ConnectionOptions | undefined> {
  const anyTls = urls.some((u) => u.startsWith('rediss://'));
  for (const [flag, value] of [
    ['--tls-ca', flags.tlsCa],
    ['--tls-servername', flags.tlsServername],
  ] as const) {
    if (value !== undefined && !anyTls) {
      throw new ConfigError(`${flag} needs a rediss:// URL: every --redis URL is redis:// (plain text)`);
    }
  }
  const caFile = flags.tlsCa ?? (env.REDIS_TLS_CA || undefined);
  const options: tls.ConnectionOptions = {};
  if (caFile !== undefined) {
    const what = flags.tlsCa === undefined ? 'REDIS_TLS_CA' : '--tls-ca';
    let pem: string;
    try {
      pem = await readFile(caFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read the ${what} file ${caFile}: ${(err as Error).message}`);
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError(
        `the ${what} file ${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      );
    }
    options.ca = pem;
  }
  if (flags.tlsServername !== undefined) options.servername = flags.tlsServername;
  return Object.keys(options).length > 0 ? options : undefined;
}
