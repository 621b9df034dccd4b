// Messaging on a real database: exactly once, in order, topics, timeouts,
// multicast all or nothing, limits, and the wake-up path with and without
// the daemon.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Db } from '../../schema/db.js';
import { dbosHome, type DbosHome } from '../../schema/home.js';
import { stderrLogger } from '../../schema/log.js';
import { Ipc, MAX_MESSAGE_BYTES, wakeupSocket } from '../../ipc/client.js';
import { IpcDaemon } from '../../ipc/daemon.js';
import { clearAbandoned, receive } from '../../ipc/sql.js';
import { freshDatabase, type TestDb } from '../helpers/db.js';

let t: TestDb;
let home: DbosHome;
let daemon: IpcDaemon;
const opened: Ipc[] = [];
const dbs: Db[] = [];

/** A mailbox for a new "process": its own connection pool, as separate programs have. */
async function mailbox(name: string, o: { keepHistory?: boolean } = {}): Promise<Ipc> {
  const db = new Db(t.target, { poolSize: 2 });
  dbs.push(db);
  const ipc = await Ipc.open(db, { name, create: true, home, ...o });
  opened.push(ipc);
  return ipc;
}

beforeAll(async () => {
  t = await freshDatabase();
  home = dbosHome({ DBOS_HOME: mkdtempSync('/tmp/dbos-ipc-') });
  daemon = new IpcDaemon(t.db, stderrLogger('test-ipc', 'error'), { socketPath: wakeupSocket(home), pollMs: 60_000 });
  await daemon.start();
});
afterAll(async () => {
  for (const i of opened) await i.close().catch(() => undefined);
  for (const d of dbs) await d.close();
  await daemon?.stop();
  rmSync(home.root, { recursive: true, force: true });
  await t?.drop();
});

const texts = (ms: { data: Buffer }[]) => ms.map((m) => m.data.toString());

describe('send and receive', () => {
  it('delivers in order per sender, once, with the sender and topic', async () => {
    const a = await mailbox('a');
    const b = await mailbox('b');
    for (let i = 0; i < 10; i++) await a.send('b', `m${i}`);
    const got = await b.recvMany({ max: 100 });
    expect(texts(got)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(got.every((m) => m.sender === 'a' && m.topic === '')).toBe(true);
    expect(await b.recv({ timeoutMs: 50 })).toBeNull();
    expect(await t.db.rows("SELECT * FROM Message_waiting WHERE receiver_id = 'b'")).toEqual([]);
    // The batch stays until the next receive (here, close) acknowledges it: a retry could still ask for it.
    expect(await t.db.rows("SELECT * FROM Message WHERE receiver_id = 'b'")).toHaveLength(10);
    await b.close();
    expect(await t.db.rows("SELECT * FROM Message WHERE receiver_id = 'b'")).toEqual([]);
  });

  it('receives only the asked topic, leaving the rest', async () => {
    const s = await mailbox('s');
    const r = await mailbox('r');
    await s.send('r', 'x1', { topic: 'x' });
    await s.send('r', 'y1', { topic: 'y' });
    await s.send('r', 'x2', { topic: 'x' });
    expect(texts(await r.recvMany({ topic: 'y' }))).toEqual(['y1']);
    expect(texts(await r.recvMany({ topic: 'x' }))).toEqual(['x1', 'x2']);
    expect(await r.recv({ topic: 'y', timeoutMs: 20 })).toBeNull();
  });

  it('without a topic receives every topic in sending order, one topic per batch', async () => {
    const s = await mailbox('any-s');
    const r = await mailbox('any-r');
    for (const [data, topic] of [['x1', 'x'], ['y1', 'y'], ['x2', 'x'], ['z1', ''], ['x3', 'x']]) await s.send('any-r', data!, { topic });
    const batches: string[][] = [];
    for (let b = await r.recvMany({ timeoutMs: 50 }); b.length > 0; b = await r.recvMany({ timeoutMs: 50 })) batches.push(texts(b));
    expect(batches).toEqual([['x1'], ['y1'], ['x2'], ['z1'], ['x3']]);
    await s.send('any-r', 'y2', { topic: 'y' });
    await s.send('any-r', 'y3', { topic: 'y' });
    expect(texts(await r.recvMany())).toEqual(['y2', 'y3']);
  });

  it('multicasts in one CALL, all or nothing', async () => {
    const hub = await mailbox('hub');
    const spokes = await Promise.all(['s1', 's2', 's3'].map((n) => mailbox(n)));
    await hub.multicast(['s1', 's2', 's3'], 'to all');
    for (const s of spokes) expect(texts(await s.recvMany())).toEqual(['to all']);
    await expect(hub.multicast(['s1', 'nobody-here', 's2'], 'half?')).rejects.toThrow(/no mailbox "nobody-here"; nothing was sent/);
    expect(await t.db.rows("SELECT * FROM Message WHERE data = 'half?'")).toEqual([]);
    await expect(hub.send('nobody-here', 'x')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('sends a batch to several mailboxes in one CALL, all or nothing', async () => {
    const from = await mailbox('batch-from');
    const x = await mailbox('batch-x');
    const y = await mailbox('batch-y');
    await from.sendMany([{ to: 'batch-x', data: '1' }, { to: 'batch-y', data: '2' }, { to: 'batch-x', data: '3' }]);
    expect(texts(await x.recvMany())).toEqual(['1', '3']);
    expect(texts(await y.recvMany())).toEqual(['2']);
    await expect(from.sendMany([{ to: 'batch-x', data: '4' }, { to: 'batch-ghost', data: '5' }])).rejects.toThrow(/no mailbox "batch-ghost"; nothing was sent/);
    expect(await x.recv({ timeoutMs: 20 })).toBeNull();
  });

  it('refuses messages over the limit and bad names', async () => {
    const a = await mailbox('big-a');
    await mailbox('big-b');
    await expect(a.send('big-b', Buffer.alloc(MAX_MESSAGE_BYTES + 1))).rejects.toThrow(/at most 4194304 bytes/);
    await a.send('big-b', Buffer.alloc(MAX_MESSAGE_BYTES, 7));
    await expect(a.send('a/b', 'x')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(mailbox('')).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('times out when nothing comes', async () => {
    const q = await mailbox('quiet');
    const start = Date.now();
    expect(await q.recv({ timeoutMs: 300 })).toBeNull();
    expect(Date.now() - start).toBeGreaterThanOrEqual(290);
  });

  it('an iterator yields messages as they come', async () => {
    const src = await mailbox('src');
    const it = await mailbox('iter');
    const seen: string[] = [];
    const loop = (async () => {
      for await (const m of it.messages()) {
        seen.push(m.data.toString());
        if (seen.length === 3) break;
      }
    })();
    for (const x of ['1', '2', '3']) await src.send('iter', x);
    await loop;
    expect(seen).toEqual(['1', '2', '3']);
  });
});

describe('exactly once', () => {
  it('concurrent receivers on one mailbox never get the same message', async () => {
    const sender = await mailbox('many-sender');
    const receivers = await Promise.all([0, 1, 2, 3].map(() => mailbox('shared')));
    const N = 200;
    for (let i = 0; i < N; i++) await sender.send('shared', String(i));
    const got: string[][] = await Promise.all(receivers.map(async (r) => {
      const mine: string[] = [];
      for (;;) {
        const batch = await r.recvMany({ max: 7, timeoutMs: 100 });
        if (batch.length === 0) return mine;
        mine.push(...texts(batch));
      }
    }));
    const all = got.flat();
    expect(all).toHaveLength(N);
    expect(new Set(all).size).toBe(N);
    for (const mine of got) expect(mine.map(Number)).toEqual([...mine.map(Number)].sort((x, y) => x - y));
  });

  it('concurrent multicasts to the same mailboxes neither deadlock nor reorder a sender', async () => {
    const names = ['cm-0', 'cm-1', 'cm-2', 'cm-3', 'cm-4'];
    const receivers = await Promise.all(names.map((n) => mailbox(n)));
    const senders = await Promise.all([0, 1, 2, 3].map((i) => mailbox(`cm-sender-${i}`)));
    // Each sender names the receivers in its own order; the send sorts them.
    await Promise.all(senders.map(async (s, i) => {
      const order = i % 2 ? [...names].reverse() : names;
      for (let k = 0; k < 25; k++) await s.multicast(order, `${i}:${k}`);
    }));
    for (const r of receivers) {
      const got = texts(await r.recvMany({ max: 1000 }));
      expect(got).toHaveLength(100);
      for (let i = 0; i < 4; i++) {
        expect(got.filter((x) => x.startsWith(`${i}:`))).toEqual(Array.from({ length: 25 }, (_, k) => `${i}:${k}`));
      }
    }
  });

  it('a receive retried after a lost answer returns the same batch, not a new one', async () => {
    const s = await mailbox('retry-s');
    await mailbox('retry-r');
    for (const x of ['a', 'b', 'c']) await s.send('retry-r', x);
    const first = await receive(t.db, { receiver: 'retry-r', topic: null, max: 2, request: 77, retry: false });
    expect(first.more).toBe(true);
    // The answer "got lost"; the client asks again with the same request id.
    const again = await receive(t.db, { receiver: 'retry-r', topic: null, max: 2, request: 77, retry: true });
    expect(texts(again.messages)).toEqual(texts(first.messages));
    expect(texts(first.messages)).toEqual(['a', 'b']);
    // A retry of a request that never reached the database is an ordinary receive.
    const next = await receive(t.db, { receiver: 'retry-r', topic: null, max: 2, request: 78, retry: true });
    expect(texts(next.messages)).toEqual(['c']);
    expect(next.more).toBe(false);
    // ... and it acknowledged the first batch.
    expect(texts(await t.db.rows("SELECT data FROM Message WHERE receiver_id = 'retry-r'"))).toEqual(['c']);
  });

  it('keeps delivered messages in Message_history when asked, and clears abandoned batches', async () => {
    const s = await mailbox('hist-s');
    const r = await mailbox('hist-r', { keepHistory: true });
    await s.send('hist-r', 'kept');
    await r.recv();
    await r.close();
    const h = await t.db.rows("SELECT sender_id, data FROM Message_history WHERE receiver_id = 'hist-r'");
    expect(h.map((x) => [String(x.sender_id), String(x.data)])).toEqual([['hist-s', 'kept']]);
    await s.send('hist-r', 'abandoned');
    await receive(t.db, { receiver: 'hist-r', topic: null, max: 1, request: 5, retry: false });
    expect(await clearAbandoned(t.db, 600)).toBe(0);
    await t.db.run("UPDATE Message_queue SET batch_at = NOW(6) - INTERVAL 1 HOUR WHERE receiver_id = 'hist-r'");
    expect(await clearAbandoned(t.db, 600)).toBe(1);
    expect(await t.db.rows("SELECT * FROM Message WHERE receiver_id = 'hist-r'")).toEqual([]);
    expect(Number((await t.db.rows("SELECT COUNT(*) AS n FROM Message_history WHERE receiver_id = 'hist-r'"))[0]!.n)).toBe(2);
  });
});

describe('no busy waiting', () => {
  it('a waiting receiver is woken by the daemon, not by polling', async () => {
    expect(daemon.subscriberCount).toBeGreaterThan(0);
    const s = await mailbox('wake-s');
    const r = await mailbox('wake-r');
    expect(r.daemonConnected).toBe(true);
    const pending = r.recv({ timeoutMs: 30_000 });
    await new Promise((res) => setTimeout(res, 200));
    const before = daemon.wakeups;
    const sentAt = Date.now();
    await s.send('wake-r', 'hello');
    expect((await pending)?.data.toString()).toBe('hello');
    // The daemon's own poll is set to a minute here: only the wake-up can explain this.
    expect(Date.now() - sentAt).toBeLessThan(5000);
    expect(daemon.wakeups).toBeGreaterThan(before);
  });

  it('a second daemon does not take over a live one\'s socket', async () => {
    const second = new IpcDaemon(t.db, stderrLogger('test-ipc', 'error'), { socketPath: wakeupSocket(home) });
    await expect(second.start()).rejects.toThrow(/another dbos ipc daemon is running/);
    const s = await mailbox('still-s');
    const r = await mailbox('still-r');
    const pending = r.recv({ timeoutMs: 30_000 });
    await new Promise((res) => setTimeout(res, 100));
    await s.send('still-r', 'the first daemon still wakes');
    expect((await pending)?.data.toString()).toBe('the first daemon still wakes');
  });

  it('without the daemon, receivers fall back to a slow poll and still get everything', async () => {
    const lonelyHome = dbosHome({ DBOS_HOME: mkdtempSync('/tmp/dbos-ipc-none-') });
    const db = new Db(t.target, { poolSize: 2 });
    dbs.push(db);
    const r = await Ipc.open(db, { name: 'no-daemon', create: true, home: lonelyHome });
    opened.push(r);
    expect(r.daemonConnected).toBe(false);
    const s = await mailbox('no-daemon-s');
    setTimeout(() => void s.send('no-daemon', 'polled'), 300);
    expect((await r.recv({ timeoutMs: 10_000 }))?.data.toString()).toBe('polled');
    rmSync(lonelyHome.root, { recursive: true, force: true });
  });

  it("the daemon's safety net finds a message no sender announced", async () => {
    const netHome = dbosHome({ DBOS_HOME: mkdtempSync('/tmp/dbos-ipc-net-') });
    const safety = new IpcDaemon(t.db, stderrLogger('test-ipc', 'error'), { socketPath: wakeupSocket(netHome), pollMs: 200 });
    await safety.start();
    const db = new Db(t.target, { poolSize: 2 });
    dbs.push(db);
    try {
      const w = await Ipc.open(db, { name: 'unannounced', create: true, home: netHome });
      opened.push(w);
      expect(w.daemonConnected).toBe(true);
      const pending = w.recv({ timeoutMs: 20_000 });
      // Sent from SQL: no sender tells the daemon, so only its poll can find it.
      await t.db.call(`CALL ipc_send('sql', '[["unannounced", "", 1, 1, 0, 7]]', 'by hand')`);
      expect((await pending)?.data.toString()).toBe('by hand');
    } finally {
      await safety.stop();
      rmSync(netHome.root, { recursive: true, force: true });
    }
  });
});
