import net from 'node:net';

export type SilentTcpProxy = {
  port: number;
  /** `url` with its host and port pointing at the proxy. */
  via(url: string): string;
  /**
   * On: nothing more crosses either way and no socket is closed, what a network partition or a
   * failover that blackholes the old server looks like to a client (no reset, no error). Off: what
   * waited is delivered, as TCP's retransmissions would after the partition heals.
   */
  silence(on: boolean): void;
  readonly silent: boolean;
  close(): Promise<void>;
};

/** A TCP proxy to `upstreamPort` on the loopback interface that can go silent. */
export async function startSilentTcpProxy(upstreamPort: number): Promise<SilentTcpProxy> {
  let silent = false;
  const sockets = new Set<net.Socket>();
  // What each direction read while silent, delivered in order when the silence ends.
  const flushers = new Set<() => void>();
  const forward = (from: net.Socket, to: net.Socket) => {
    const held: Buffer[] = [];
    const flush = () => {
      for (const chunk of held.splice(0)) to.write(chunk);
    };
    flushers.add(flush);
    from.on('data', (chunk: Buffer) => (silent ? held.push(chunk) : to.write(chunk)));
    from.on('close', () => {
      flushers.delete(flush);
      to.destroy();
    });
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    via(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    silence(on: boolean) {
      silent = on;
      if (!on) for (const flush of flushers) flush();
    },
    get silent() {
      return silent;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
