// The client side of `dbos bench ipc`: one driver per system, each able to do
// a round trip on a pair, a burst of k messages on a pair (k out, k back), and
// a multicast to R receivers that all reply. The runners in run.ts time them.
import { connect, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Db } from '../../schema/db.js';
import type { DbosHome } from '../../schema/home.js';
import type { DbTarget } from '../../schema/url.js';
import { Ipc } from '../client.js';
import { ECHO_SERVICE, frame, frameReader } from './servers.js';

export interface Driver {
  readonly name: string;
  roundTrip(pair: number, data: Buffer): Promise<void>;
  burst(pair: number, data: Buffer, k: number): Promise<void>;
  multicast(receivers: number, data: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** Waits for `n` arrivals on one connection. */
class Arrivals {
  private waiting: { left: number; done: () => void } | null = null;
  private early = 0;

  arrived(): void {
    if (!this.waiting) {
      this.early++;
      return;
    }
    if (--this.waiting.left === 0) {
      const w = this.waiting;
      this.waiting = null;
      w.done();
    }
  }

  expect(n: number): Promise<void> {
    const take = Math.min(n, this.early);
    this.early -= take;
    if (take === n) return Promise.resolve();
    return new Promise((done) => { this.waiting = { left: n - take, done }; });
  }
}

export async function tcpDriver(port: number, connections: number): Promise<Driver> {
  const socks: { s: Socket; a: Arrivals }[] = [];
  for (let i = 0; i < connections; i++) {
    const s = connect(port, '127.0.0.1');
    await new Promise<void>((r, j) => { s.once('connect', r); s.once('error', j); });
    s.setNoDelay(true);
    const a = new Arrivals();
    s.on('data', frameReader(() => a.arrived()));
    socks.push({ s, a });
  }
  return {
    name: 'tcp',
    async roundTrip(p, data) {
      const c = socks[p]!;
      const back = c.a.expect(1);
      c.s.write(frame(data));
      await back;
    },
    async burst(p, data, k) {
      const c = socks[p]!;
      const back = c.a.expect(k);
      const f = frame(data);
      c.s.write(Buffer.concat(Array.from({ length: k }, () => f)));
      await back;
    },
    async multicast(r, data) {
      const f = frame(data);
      const back = socks.slice(0, r).map((c) => c.a.expect(1));
      for (const c of socks.slice(0, r)) c.s.write(f);
      await Promise.all(back);
    },
    async close() {
      for (const c of socks) c.s.destroy();
    },
  };
}

type EchoClient = grpc.Client & {
  echo(b: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void;
  stream(): grpc.ClientDuplexStream<Buffer, Buffer>;
};

/** gRPC, unary calls or one bidirectional stream per pair; each pair its own connection. */
export async function grpcDriver(port: number, connections: number, streaming: boolean): Promise<Driver> {
  const Client = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  const clients: EchoClient[] = [];
  for (let i = 0; i < connections; i++) {
    clients.push(new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as EchoClient);
  }
  await Promise.all(clients.map((c) => new Promise<void>((r, j) => c.waitForReady(Date.now() + 10_000, (e) => (e ? j(e) : r())))));
  const call = (c: EchoClient, data: Buffer) => new Promise<void>((r, j) => c.echo(data, (e) => (e ? j(e) : r())));
  if (!streaming) {
    return {
      name: 'grpc-unary',
      roundTrip: (p, data) => call(clients[p]!, data),
      async burst(p, data, k) {
        await Promise.all(Array.from({ length: k }, () => call(clients[p]!, data)));
      },
      async multicast(r, data) {
        await Promise.all(clients.slice(0, r).map((c) => call(c, data)));
      },
      async close() {
        for (const c of clients) c.close();
      },
    };
  }
  const streams = clients.map((c) => {
    const s = c.stream();
    const a = new Arrivals();
    s.on('data', () => a.arrived());
    s.on('error', () => undefined);
    return { s, a };
  });
  return {
    name: 'grpc-stream',
    async roundTrip(p, data) {
      const c = streams[p]!;
      const back = c.a.expect(1);
      c.s.write(data);
      await back;
    },
    async burst(p, data, k) {
      const c = streams[p]!;
      const back = c.a.expect(k);
      for (let i = 0; i < k; i++) c.s.write(data);
      await back;
    },
    async multicast(r, data) {
      const back = streams.slice(0, r).map((c) => c.a.expect(1));
      for (const c of streams.slice(0, r)) c.s.write(data);
      await Promise.all(back);
    },
    async close() {
      for (const c of streams) c.s.end();
      for (const c of clients) c.close();
    },
  };
}

/** DBOS: client mailboxes bench-client-i, echo receivers echo-i in the server process. */
export async function dbosDriver(target: DbTarget, home: DbosHome, pairs: number): Promise<Driver> {
  const db = new Db(target, { poolSize: Math.min(64, pairs + 4) });
  const clients: Ipc[] = [];
  for (let i = 0; i < pairs; i++) clients.push(await Ipc.open(db, { name: `bench-client-${i}`, create: true, home }));
  const collect = async (c: Ipc, n: number) => {
    for (let got = 0; got < n;) got += (await c.recvMany({ max: n - got })).length;
  };
  return {
    name: 'dbos',
    async roundTrip(p, data) {
      await clients[p]!.send(`echo-${p}`, data);
      await collect(clients[p]!, 1);
    },
    async burst(p, data, k) {
      await clients[p]!.sendMany(Array.from({ length: k }, () => ({ to: `echo-${p}`, data })));
      await collect(clients[p]!, k);
    },
    async multicast(r, data) {
      await clients[0]!.multicast(Array.from({ length: r }, (_, i) => `echo-${i}`), data);
      await collect(clients[0]!, r);
    },
    async close() {
      for (const c of clients) await c.close();
      await db.close();
    },
  };
}
