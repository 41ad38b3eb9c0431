import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM files made by `openssl` for a TLS test: a CA, a server certificate it signed, and an unrelated CA. */
export interface TestCerts {
  readonly dir: string;
  /** The CA that signed the server certificate. */
  readonly ca: string;
  /** A CA that signed nothing here: trusting only it must fail. */
  readonly otherCa: string;
  /** Server certificate for `redis.test`, `localhost` and 127.0.0.1, and its key. */
  readonly cert: string;
  readonly key: string;
  remove(): Promise<void>;
}

async function selfSignedCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    ...['-keyout', key, '-out', cert],
  ]);
  return { cert, key };
}

/** Makes a CA, a server certificate signed by it and a second, unrelated CA in a fresh temp dir. */
export async function makeTestCerts(): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'rbl-tls-'));
  const ca = await selfSignedCa(dir, 'test-ca');
  const other = await selfSignedCa(dir, 'other-ca');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.pem');
  const ext = join(dir, 'server.ext');
  await writeFile(ext, 'subjectAltName=DNS:redis.test,DNS:localhost,IP:127.0.0.1\n');
  await run('openssl', [
    ...['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=redis.test', '-keyout', key, '-out', csr],
  ]);
  await run('openssl', [
    ...['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial'],
    ...['-days', '1', '-extfile', ext, '-out', cert],
  ]);
  return {
    dir,
    ca: ca.cert,
    otherCa: other.cert,
    cert,
    key,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** redis-server arguments for a TLS port (clients are not asked for certificates). */
export function tlsServerArgs(certs: TestCerts, tlsPort: number): string[] {
  return [
    ...['--tls-port', String(tlsPort), '--tls-cert-file', certs.cert, '--tls-key-file', certs.key],
    ...['--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no'],
  ];
}
