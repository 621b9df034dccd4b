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
    // The previous batch is gone once the next receive acknowledged it.
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

  it('multicasts with one INSERT, all or nothing', async () => {
    const hub = await mailbox('hub');
    const spokes = await Promise.all(['s1', 's2', 's3'].map((n) => mailbox(n)));
    await hub.multicast(['s1', 's2', 's3'], 'to all');
    for (const s of spokes) expect(texts(await s.recvMany())).toEqual(['to all']);
    await expect(hub.multicast(['s1', 'nobody-here', 's2'], 'half?')).rejects.toThrow(/no mailbox "nobody-here"; nothing was sent/);
    expect(await t.db.rows("SELECT * FROM Message WHERE data = 'half?'")).toEqual([]);
    await expect(hub.send('nobody-here', 'x')).rejects.toMatchObject({ code: 'ENOENT' });
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

  it('a receive retried after a lost answer returns the same batch, not a new one', async () => {
    const s = await mailbox('retry-s');
    await mailbox('retry-r');
    for (const x of ['a', 'b', 'c']) await s.send('retry-r', x);
    const first = await receive(t.db, { receiver: 'retry-r', topic: null, max: 2, request: 77, retry: false, previous: null });
    // The answer "got lost"; the client asks again with the same request id.
    const again = await receive(t.db, { receiver: 'retry-r', topic: null, max: 2, request: 77, retry: true, previous: null });
    expect(texts(again)).toEqual(texts(first));
    expect(texts(first)).toEqual(['a', 'b']);
    const next = await receive(t.db, { receiver: 'retry-r', topic: null, max: 2, request: 78, retry: false, previous: { request: 77, lo: first[0]!.id, hi: first[1]!.id } });
    expect(texts(next)).toEqual(['c']);
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
    await receive(t.db, { receiver: 'hist-r', topic: null, max: 1, request: 5, retry: false, previous: null });
    await t.db.run("UPDATE Message SET taken_at = NOW(6) - INTERVAL 1 HOUR WHERE receiver_id = 'hist-r'");
    expect(await clearAbandoned(t.db, 600)).toBe(1);
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
      // Inserted by hand: no sender tells the daemon, so only its poll can find it.
      await t.db.run("INSERT INTO Message (receiver_id, sender_id, topic, data, sent_at) VALUES ('unannounced', 'sql', '', 'by hand', NOW(6))");
      expect((await pending)?.data.toString()).toBe('by hand');
    } finally {
      await safety.stop();
      rmSync(netHome.root, { recursive: true, force: true });
    }
  });
});
