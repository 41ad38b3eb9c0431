import { classifyError } from '../errors/index.js';
import { type Reply, serversOf, type Target } from '../redis/index.js';
import { execChecked } from './exec.js';
import { datasetKeys, expireCommand, versionKey, versionPattern } from './keys.js';

/** Keys asked of `SCAN` per call. */
const SCAN_COUNT = 1000;

/** What {@link expireVersions} did. */
export interface ExpireResult {
  /** Versions whose every key got its expiry (or was unlinked); removed from `<name>:versions`. */
  readonly expired: number[];
  /** Versions left for the next cutover: time ran out, or a shard failed (see `errors`). */
  readonly pending: number[];
  readonly keys: number;
  readonly errors: string[];
}

/** Options of {@link expireVersions}. */
export interface ExpireOptions {
  /** `EXPIRE` seconds; 0 unlinks at once. */
  readonly graceSeconds: number;
  /** Stop starting new `SCAN` pages after this time (`Date.now()` milliseconds): a Lambda's deadline. */
  readonly deadline?: number;
}

/**
 * Expires whole versions of a dataset: on every server (each master of a cluster) `SCAN MATCH <name>:v<n>:*`
 * and `EXPIRE` (or `UNLINK`) what it finds, page by page, then the version's hash; the version leaves
 * `<name>:versions` only when all of that is done, so an unfinished expiry is continued by the next cutover.
 * Keys are expired on the server that holds them, one single-key command each (no CROSSSLOT in a cluster).
 */
export async function expireVersions(
  targets: readonly Target[],
  name: string,
  versions: readonly number[],
  options: ExpireOptions,
): Promise<ExpireResult> {
  const expired: number[] = [];
  const pending: number[] = [];
  const errors: string[] = [];
  let keys = 0;
  const servers = await serversOf(targets);
  const control = targets[0]!;
  for (const version of versions) {
    let complete = true;
    try {
      for (const server of servers) {
        const done = await expireOn(server, versionPattern(name, version), options, (n) => {
          keys += n;
        });
        if (!done) complete = false;
      }
      if (complete) {
        const dataset = datasetKeys(name);
        await execChecked(control, [
          expireCommand(versionKey(name, version), options.graceSeconds),
          { key: dataset.versions, args: ['ZREM', dataset.versions, String(version)] },
        ]);
        expired.push(version);
      } else pending.push(version);
    } catch (err) {
      errors.push(`v${version}: ${classifyError(err).message}`);
      pending.push(version);
    }
  }
  return { expired, pending, keys, errors };
}

/** One server's share of a version; false when the deadline came first. */
async function expireOn(
  server: Target,
  pattern: string,
  options: ExpireOptions,
  counted: (n: number) => void,
): Promise<boolean> {
  let cursor = '0';
  do {
    if (options.deadline !== undefined && Date.now() > options.deadline) return false;
    const [reply] = await execChecked(server, [
      { args: ['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(SCAN_COUNT)] },
    ]);
    const [next, found] = scanReply(reply);
    if (found.length > 0) {
      await execChecked(
        server,
        found.map((key) => expireCommand(key, options.graceSeconds)),
      );
      counted(found.length);
    }
    cursor = next;
  } while (cursor !== '0');
  return true;
}

function scanReply(reply: Reply | undefined): [string, string[]] {
  if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) {
    throw new Error(`unexpected SCAN reply ${JSON.stringify(reply).slice(0, 200)}`);
  }
  return [String(reply[0]), reply[1].map(String)];
}
