import { createHash } from 'node:crypto';
import {
  classifyError,
  classifyReplyError,
  ConfigError,
  FatalError,
  RetryableError,
  ServerResetError,
} from '../errors/index.js';
import { keySlot, SLOT_COUNT } from './slots.js';
import { touchTargets } from './touch.js';
import { TcpTarget, type TcpTargetOptions } from './tcp-target.js';
import {
  type Command,
  type ExecOptions,
  type RedisInfo,
  type Reply,
  ReplyError,
  type ServerIdentity,
  type Target,
} from './types.js';
import { parseRedisUrl, type RedisEndpoint } from './url.js';

/** Options of {@link ClusterTarget}: those of every node's {@link TcpTarget}, and the redirect limit. */
export interface ClusterTargetOptions extends TcpTargetOptions {
  /** How many `MOVED`/`ASK` redirects one command may follow before its reply is the redirect itself. @default 5 */
  maxRedirects?: number;
}

/** The redirects a cluster target followed since it was made. */
export interface ClusterRedirects {
  /** Commands sent again to a slot's new owner after a `MOVED`. */
  moved: number;
  /** Commands sent with `ASKING` to the importing node after an `ASK` (a slot being migrated). */
  ask: number;
}

/** One master of the slot map. */
interface Node {
  readonly address: string;
  readonly target: TcpTarget;
}

/** A `MOVED` or `ASK` reply: `MOVED 3999 127.0.0.1:6381`. */
interface Redirect {
  readonly ask: boolean;
  readonly slot: number;
  readonly address: string;
}

interface Waiter {
  run(): void;
  fail(error: Error): void;
}

const ASKING: Command = { args: ['ASKING'] };

function parseRedirect(message: string): Redirect | undefined {
  const ask = message.startsWith('ASK ');
  if (!ask && !message.startsWith('MOVED ')) return undefined;
  const [, slotText, address] = message.split(' ');
  const slot = Number(slotText);
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT || !address) return undefined;
  return { ask, slot, address };
}

/** `host:port` as a URL authority (IPv6 in brackets). */
function authority(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** `host:port` of an address as Redis writes it (`::1:7000` for IPv6: the port follows the last colon). */
function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}

/**
 * A {@link Target} for a Redis Cluster, from one seed node: the slot map is read with `CLUSTER SHARDS` (or
 * `CLUSTER SLOTS`), each command goes to the master that owns the CRC16 slot of its `key` (hash tags
 * respected), and each master gets its part of a pipeline as one pipeline of its own (a {@link TcpTarget} per
 * master, with the seed's credentials and TLS). Replies come back in the order of `cmds`.
 *
 * Redirects: a `MOVED` updates the slot map and sends exactly the redirected commands to the new owner; an
 * `ASK` sends them with `ASKING` to the importing node. A command follows at most `maxRedirects` of them.
 * While a redirect is being followed, new pipelines wait until every pipeline sent before it has settled, so
 * two writes to one key never swap places across a slot move. `TRYAGAIN`/`CLUSTERDOWN` stay error replies
 * for the caller to retry (they are {@link RetryableError}s); after one, or after a lost connection, the slot
 * map is read again before the next pipeline.
 *
 * Identity: `identity()` combines the `run_id`s and replication ids of the masters that own slots, so a
 * master that restarted, or a failover to a replica, is a reset (`ServerResetError`) exactly as for one
 * server. A master that joins and takes slots counts as a change too (it may be a promoted replica).
 *
 * @example
 * const cluster = new ClusterTarget('redis://:secret@10.0.0.5:6379');
 * await cluster.exec([{ key: 'user:1', args: ['SET', 'user:1', '42'] }, { key: 'user:2', args: ['SET', 'user:2', '7'] }]);
 * cluster.redirects; // { moved: 0, ask: 0 }
 */
export class ClusterTarget implements Target {
  /** The `MOVED` and `ASK` redirects followed so far. */
  readonly redirects: ClusterRedirects = { moved: 0, ask: 0 };
  private readonly seed: RedisEndpoint;
  private readonly nodeOptions: TcpTargetOptions;
  private readonly maxRedirects: number;
  private readonly nodes = new Map<string, Node>();
  /** Owner of each slot; undefined where no master covers it. */
  private owners: (Node | undefined)[] = new Array<Node | undefined>(SLOT_COUNT);
  private masters: Node[] = [];
  private mapped = false;
  /** Set after a lost connection or `CLUSTERDOWN`: the next pipeline reads the slot map first. */
  private stale = false;
  /** A redirect is being followed: new pipelines wait until `active` is 0. */
  private held = false;
  private active = 0;
  /** Pipelines (and `ready` calls) waiting for the map or for a redirect to settle, in call order. */
  private readonly queue: Waiter[] = [];
  private reading: Promise<void> | undefined;
  private ident: { key: string; value: ServerIdentity } | undefined;

  /**
   * Parses the seed URL and options only; the first `exec` reads the slot map.
   * @throws {ConfigError} for an invalid URL or option, or a database other than 0 (a cluster has only db 0).
   */
  constructor(seedUrl: string, options: ClusterTargetOptions = {}) {
    const { maxRedirects, ...nodeOptions } = options;
    if (maxRedirects !== undefined && !(Number.isInteger(maxRedirects) && maxRedirects >= 1))
      throw new ConfigError(`ClusterTarget: maxRedirects must be a positive integer, got ${maxRedirects}`);
    this.seed = parseRedisUrl(seedUrl);
    if (this.seed.db !== 0)
      throw new ConfigError(
        `Redis URL ${this.seed.name}: a Redis Cluster has only database 0; remove /${this.seed.db} from the URL`,
      );
    this.nodeOptions = nodeOptions;
    this.maxRedirects = maxRedirects ?? 5;
    // Validates the node options once, here, rather than at the first node.
    this.nodeAt(this.seed.host, this.seed.port);
  }

  /** The seed node with the password redacted, marked as a cluster: `redis://:***@10.0.0.5:6379/0 (cluster)`. */
  get name(): string {
    return `${this.seed.name} (cluster)`;
  }

  /** The hash slot of `key`: keys of one multi-key command (a watermarked script) must share it. */
  keySlot(key: string): number {
    return keySlot(key);
  }

  /** The masters that own slots, one {@link Target} each (for INFO, memory and probes per server). */
  async members(): Promise<readonly Target[]> {
    await this.ready();
    return this.masters.map((n) => n.target);
  }

  exec(cmds: readonly Command[], options?: ExecOptions): Promise<Reply[]> {
    if (cmds.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      if (!this.mapped || this.stale || this.held || this.queue.length > 0) {
        this.queue.push({ run: () => this.dispatch(cmds, options, resolve, reject), fail: reject });
        this.release();
      } else this.dispatch(cmds, options, resolve, reject);
    });
  }

  /** `INFO` of the first master in the slot map, where key-less commands go (use {@link members} for each). */
  async info(sections: readonly string[] = []): Promise<RedisInfo> {
    await this.ready();
    return this.masters[0]!.target.info(sections);
  }

  /** The masters' identities combined; see the class comment. Undefined until every master was reached. */
  identity(): ServerIdentity | undefined {
    let key = '';
    for (const n of this.masters) {
      const id = n.target.identity();
      if (id === undefined) return undefined;
      key += `${n.address}=${id.runId}/${id.replId ?? ''};`;
    }
    if (key === '') return undefined;
    if (this.ident?.key !== key)
      this.ident = { key, value: { runId: createHash('sha1').update(key).digest('hex') } };
    return this.ident.value;
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.target.close()));
  }

  private nodeAt(host: string, port: number): Node {
    const address = authority(host, port);
    let node = this.nodes.get(address);
    if (node === undefined) {
      const { username, password, tls } = this.seed;
      const auth =
        password === undefined
          ? ''
          : `${username === undefined ? '' : encodeURIComponent(username)}:${encodeURIComponent(password)}@`;
      const url = `${tls ? 'rediss' : 'redis'}://${auth}${address}`;
      node = { address, target: new TcpTarget(url, this.nodeOptions) };
      this.nodes.set(address, node);
    }
    return node;
  }

  /** Resolves once the slot map is read and current. */
  private ready(): Promise<void> {
    if (this.mapped && !this.stale) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ run: resolve, fail: reject });
      this.release();
    });
  }

  /**
   * Runs the waiting pipelines in order once nothing sent before a redirect is still in flight, reading the
   * slot map first when it is stale. A failed map read fails the waiting pipelines with its error.
   */
  private release(): void {
    if (this.active > 0 || this.reading !== undefined) return;
    if (!this.mapped || this.stale) {
      this.reading = this.readMap().then(
        () => {
          this.reading = undefined;
          this.drain();
        },
        (err: unknown) => {
          this.reading = undefined;
          const error = classifyError(err);
          for (const waiter of this.queue.splice(0)) waiter.fail(error);
        },
      );
      return;
    }
    this.drain();
  }

  private drain(): void {
    this.held = false;
    while (this.queue.length > 0 && !this.held && !this.stale) this.queue.shift()!.run();
    if (this.queue.length > 0) this.release();
  }

  /** Sends each command to the owner of its slot, follows redirects, and resolves with the replies in order. */
  private dispatch(
    cmds: readonly Command[],
    options: ExecOptions | undefined,
    resolve: (replies: Reply[]) => void,
    reject: (error: Error) => void,
  ): void {
    const groups = new Map<Node, number[]>();
    for (let i = 0; i < cmds.length; i++) {
      const key = cmds[i]!.key;
      const node = key === undefined ? this.masters[0] : this.owners[keySlot(key)];
      if (node === undefined) {
        this.stale = true;
        const slot = key === undefined ? -1 : keySlot(key);
        reject(
          new RetryableError(
            slot < 0
              ? `${this.name}: no master is known`
              : `${this.name}: no master covers slot ${slot} (of key ${key!.slice(0, 64)}); the slot map is read again`,
          ),
        );
        return;
      }
      let list = groups.get(node);
      if (list === undefined) groups.set(node, (list = []));
      list.push(i);
    }
    this.active++;
    const replies: Reply[] = new Array<Reply>(cmds.length);
    const sent: Promise<void>[] = [];
    for (const [node, indexes] of groups)
      sent.push(this.send(node, cmds, indexes, false, replies, options, 0));
    void Promise.all(sent).then(
      () => {
        this.settled();
        resolve(replies);
      },
      (err: unknown) => {
        // Wait for the other masters' parts too, so nothing of this pipeline is in flight once it rejects.
        void Promise.allSettled(sent).then(() => {
          this.settled();
          reject(err instanceof Error ? err : new Error(String(err)));
        });
      },
    );
  }

  private settled(): void {
    this.active--;
    if (this.active === 0 && this.queue.length > 0) this.release();
  }

  /**
   * Sends `cmds[indexes]` to `node` (each after `ASKING` when `asking`) and puts their replies in place; a
   * redirected command is sent on at once, in the reply's callback, so redirected writes keep their order.
   */
  private send(
    node: Node,
    cmds: readonly Command[],
    indexes: readonly number[],
    asking: boolean,
    replies: Reply[],
    options: ExecOptions | undefined,
    hops: number,
  ): Promise<void> {
    const sub: Command[] = new Array<Command>(asking ? indexes.length * 2 : indexes.length);
    for (let j = 0; j < indexes.length; j++) {
      if (asking) {
        sub[2 * j] = ASKING;
        sub[2 * j + 1] = cmds[indexes[j]!]!;
      } else sub[j] = cmds[indexes[j]!]!;
    }
    return node.target.exec(sub, options).then(
      (got) => {
        let moved: Map<Node, number[]> | undefined;
        let asked: Map<Node, number[]> | undefined;
        for (let j = 0; j < indexes.length; j++) {
          const reply = asking ? got[2 * j + 1]! : got[j]!;
          if (reply instanceof ReplyError) {
            const redirect = hops < this.maxRedirects ? parseRedirect(reply.message) : undefined;
            if (redirect !== undefined) {
              const { host, port } = splitAddress(redirect.address);
              const to = this.nodeAt(host, port);
              if (redirect.ask) {
                this.redirects.ask++;
                asked ??= new Map();
                push(asked, to, indexes[j]!);
              } else {
                this.redirects.moved++;
                this.owners[redirect.slot] = to;
                if (!this.masters.includes(to)) this.masters.push(to);
                moved ??= new Map();
                push(moved, to, indexes[j]!);
              }
              continue;
            }
            if (reply.prefix === 'CLUSTERDOWN') this.stale = true;
          }
          replies[indexes[j]!] = reply;
        }
        if (moved === undefined && asked === undefined) return;
        this.held = true;
        const more: Promise<void>[] = [];
        for (const [to, list] of moved ?? [])
          more.push(this.send(to, cmds, list, false, replies, options, hops + 1));
        for (const [to, list] of asked ?? [])
          more.push(this.send(to, cmds, list, true, replies, options, hops + 1));
        return Promise.all(more).then(() => {});
      },
      (err: unknown) => {
        // A master that is gone may have failed over: read the map again before the next pipeline.
        if (!(err instanceof ServerResetError)) this.stale = true;
        throw err;
      },
    );
  }

  /**
   * Reads the slot map from the first node that answers (the known masters, then the seed), and connects
   * every master so their identities are known. Refuses a map with uncovered slots.
   */
  private async readMap(): Promise<void> {
    const candidates = [
      ...new Set([...this.masters, this.nodeAt(this.seed.host, this.seed.port), ...this.nodes.values()]),
    ];
    let lastError: unknown;
    for (const node of candidates) {
      let map: { owners: (Node | undefined)[]; masters: Node[] };
      try {
        map = await this.mapFrom(node);
      } catch (err) {
        if (err instanceof ConfigError || classifyError(err).name === 'AuthError') throw err;
        lastError = err;
        continue;
      }
      this.owners = map.owners;
      this.masters = map.masters;
      this.mapped = true;
      this.stale = false;
      await touchTargets(map.masters.map((m) => m.target));
      return;
    }
    throw classifyError(lastError ?? new RetryableError(`${this.name}: no node answered CLUSTER SHARDS`));
  }

  private async mapFrom(node: Node): Promise<{ owners: (Node | undefined)[]; masters: Node[] }> {
    const [shards] = await node.target.exec([{ args: ['CLUSTER', 'SHARDS'] }]);
    const owners = new Array<Node | undefined>(SLOT_COUNT);
    const masters: Node[] = [];
    const own = (from: number, to: number, host: string, port: number) => {
      const master = this.nodeAt(host, port);
      if (!masters.includes(master)) masters.push(master);
      for (let s = from; s <= to; s++) owners[s] = master;
    };
    if (shards instanceof ReplyError) {
      if (shards.message.includes('cluster support disabled'))
        throw new ConfigError(
          `${this.name} is not a Redis Cluster node (cluster_enabled:0): load it as a standalone server`,
        );
      if (
        !shards.message.startsWith('ERR unknown subcommand') &&
        !shards.message.startsWith('ERR Unknown subcommand')
      )
        throw classifyReplyError(shards.message, { shard: node.target.name, command: 'CLUSTER SHARDS' });
      // Before Redis 7.0: CLUSTER SLOTS, [[from, to, [ip, port, id], replicas…], …].
      const [slots] = await node.target.exec([{ args: ['CLUSTER', 'SLOTS'] }]);
      if (slots instanceof ReplyError)
        throw classifyReplyError(slots.message, { shard: node.target.name, command: 'CLUSTER SLOTS' });
      if (!Array.isArray(slots))
        throw new FatalError(`CLUSTER SLOTS on ${node.target.name} did not return an array`);
      for (const range of slots) {
        if (!Array.isArray(range) || !Array.isArray(range[2])) continue;
        const [ip, port] = range[2];
        own(Number(range[0]), Number(range[1]), hostOf(String(ip), node), Number(port));
      }
    } else {
      if (!Array.isArray(shards))
        throw new FatalError(`CLUSTER SHARDS on ${node.target.name} did not return an array`);
      for (const shard of shards) {
        const fields = pairs(shard);
        const slots = fields.get('slots');
        const members = fields.get('nodes');
        if (!Array.isArray(slots) || !Array.isArray(members)) continue;
        const master = members
          .map(pairs)
          .find((m) => m.get('role') === 'master' && m.get('health') !== 'fail');
        if (master === undefined) continue;
        const tlsPort = master.get('tls-port');
        const port = Number(this.seed.tls && tlsPort !== undefined ? tlsPort : master.get('port'));
        const endpoint = String(master.get('endpoint') ?? master.get('ip'));
        const host = endpoint === '?' || endpoint === '' ? String(master.get('ip')) : endpoint;
        for (let i = 0; i + 1 < slots.length; i += 2)
          own(Number(slots[i]), Number(slots[i + 1]), hostOf(host, node), port);
      }
    }
    let uncovered = 0;
    let first = -1;
    for (let s = 0; s < SLOT_COUNT; s++) {
      if (owners[s] === undefined) {
        uncovered++;
        if (first < 0) first = s;
      }
    }
    if (uncovered > 0)
      throw new RetryableError(
        `${this.name}: ${uncovered} of ${SLOT_COUNT} slots have no master (the first is slot ${first}); ` +
          'the cluster is failing over or incomplete (check CLUSTER INFO)',
      );
    return { owners, masters };
  }
}

/** A node's address as the map gives it, or the answering node's host when the map has none. */
function hostOf(host: string, answering: Node): string {
  return host === '' ? splitAddress(answering.address).host : host;
}

/** A flat `[name, value, name, value, …]` reply as a map. */
function pairs(reply: Reply): Map<string, Reply> {
  const out = new Map<string, Reply>();
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), reply[i + 1]!);
  return out;
}

function push<K>(map: Map<K, number[]>, key: K, value: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
