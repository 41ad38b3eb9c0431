import { once } from 'node:events';
import net from 'node:net';

/** What a {@link TcpProxy} does with the bytes clients send. */
export type ProxyMode =
  /** Forward both ways. */
  | 'forward'
  /** Accept connections but forward nothing in either direction: a server that hangs. */
  | 'stall'
  /** Refuse: destroy every new connection at once (the upstream looks down). */
  | 'refuse';

/** A TCP proxy on 127.0.0.1 in front of a real server, to cut, stall or refuse connections on cue. */
export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Bytes forwarded from clients to the server so far. */
  readonly forwarded: number;
  /** Connections accepted so far (refused ones included). */
  readonly accepted: number;
  mode: ProxyMode;
  /**
   * Cuts every open connection once `bytes` more client bytes have been forwarded (the cut lands inside a
   * pipeline), then switches to `then` (default `refuse`). Resolves when the cut happened.
   */
  cutAfter(bytes: number, then?: ProxyMode): Promise<void>;
  /** Destroys every open connection now. */
  cutAll(): void;
  close(): Promise<void>;
}

/**
 * Starts a proxy to `127.0.0.1:<upstreamPort>` on a free port.
 *
 * @example
 * const proxy = await startTcpProxy(redis.server.port);
 * const cut = proxy.cutAfter(100_000); // the load sees `connection reset`, then `connection refused`
 */
export async function startTcpProxy(upstreamPort: number): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  let forwarded = 0;
  let accepted = 0;
  let cut: { at: number; then: ProxyMode; done: () => void } | undefined;
  const proxy: TcpProxy = {
    port: 0,
    url: '',
    get forwarded() {
      return forwarded;
    },
    get accepted() {
      return accepted;
    },
    mode: 'forward',
    cutAfter(bytes, then = 'refuse') {
      return new Promise((resolve) => {
        cut = { at: forwarded + bytes, then, done: resolve };
      });
    },
    cutAll() {
      for (const s of open) s.destroy();
      open.clear();
    },
    async close() {
      proxy.cutAll();
      server.close();
      await once(server, 'close');
    },
  };
  const track = (s: net.Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = net.createServer((client) => {
    accepted++;
    track(client);
    if (proxy.mode === 'refuse') {
      client.destroy();
      return;
    }
    const stalled = proxy.mode === 'stall';
    const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort });
    track(upstream);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    if (stalled) {
      // Swallow everything: the client sees a server that accepted and never answers.
      client.on('data', () => {});
      return;
    }
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('data', (chunk: Buffer) => {
      if (cut !== undefined && forwarded + chunk.length >= cut.at) {
        const { at, then, done } = cut;
        cut = undefined;
        // The bytes up to the cut reach the server; the rest of the pipeline is lost with the connection.
        const head = chunk.subarray(0, at - forwarded);
        forwarded += head.length;
        proxy.mode = then;
        upstream.end(head, () => {
          proxy.cutAll();
          done();
        });
        client.destroy();
        return;
      }
      forwarded += chunk.length;
      upstream.write(chunk);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as net.AddressInfo;
  Object.assign(proxy, { port: address.port, url: `redis://127.0.0.1:${address.port}` });
  return proxy;
}
