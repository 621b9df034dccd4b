// A committed message survives the crash of its sender, of its receiver, of
// the dbos ipc daemon and of the database server, and is delivered once:
// never lost, never twice. Runs its own private server (its own DBOS_HOME).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CLI } from '../helpers/cli.js';

const home = mkdtempSync('/tmp/dbos-ipcd-');
const env = { ...process.env, DBOS_HOME: home };
delete (env as Record<string, string | undefined>).DBOS_DB_URL;
const dist = resolve('dist');

function dbos(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A program using the messaging library, printing one line per event. */
function program(body: string): { child: ChildProcess; lines: string[]; waitFor(n: number, match: RegExp): Promise<void> } {
  const code = `
    import { Db } from '${dist}/schema/db.js';
    import { dbosHome } from '${dist}/schema/home.js';
    import { privateTarget } from '${dist}/schema/server.js';
    import { Ipc } from '${dist}/ipc/client.js';
    const home = dbosHome();
    const db = new Db(privateTarget(home));
    ${body}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let rest = '';
  child.stdout!.on('data', (d) => {
    rest += d;
    const parts = rest.split('\n');
    rest = parts.pop()!;
    lines.push(...parts);
  });
  return {
    child, lines,
    async waitFor(n, match) {
      const deadline = Date.now() + 60_000;
      while (lines.filter((l) => match.test(l)).length < n) {
        if (Date.now() > deadline) throw new Error(`timed out; got ${lines.length} lines`);
        if (child.exitCode !== null) throw new Error(`program exited (${child.exitCode}): ${lines.join(' | ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

const kill9 = (c: ChildProcess) => new Promise<void>((res) => { c.once('exit', () => res()); c.kill('SIGKILL'); });
let daemon: ChildProcess;
const startDaemon = () => new Promise<ChildProcess>((res) => {
  const d = spawn(process.execPath, [CLI, 'ipc'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  d.stdout!.once('data', () => res(d));
});

beforeAll(async () => {
  expect(dbos('up', '--memory', '256M').code).toBe(0);
  expect(dbos('mailbox', 'create', 'inbox').code).toBe(0);
  expect(dbos('mailbox', 'create', 'sender').code).toBe(0);
  daemon = await startDaemon();
});
afterAll(async () => {
  daemon?.kill('SIGKILL');
  dbos('down', '--force');
  rmSync(home, { recursive: true, force: true });
});

describe('crashes', () => {
  it('every committed message is delivered exactly once, in order, across crashes of everyone', async () => {
    // The sender commits 100 messages, then is killed.
    const sender = program(`
      const ipc = await Ipc.open(db, { name: 'sender', home });
      for (let i = 0; i < 100; i++) { await ipc.send('inbox', String(i)); console.log('sent ' + i); }
      setInterval(() => {}, 1000);`);
    await sender.waitFor(100, /^sent /);
    await kill9(sender.child);

    // A receiver takes 30 of them, then is killed while it waits.
    const first = program(`
      const ipc = await Ipc.open(db, { name: 'inbox', home });
      for (let i = 0; i < 30; i++) console.log('got ' + (await ipc.recv()).data.toString());
      setInterval(() => {}, 1000);`);
    await first.waitFor(30, /^got /);
    await kill9(first.child);

    // The daemon and the database server die too.
    await kill9(daemon);
    process.kill(Number(readFileSync(join(home, 'mariadb.pid'), 'utf8')), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    expect(dbos('up').code).toBe(0);
    daemon = await startDaemon();

    // A new receiver gets the rest: nothing lost, nothing twice.
    const second = program(`
      const ipc = await Ipc.open(db, { name: 'inbox', home });
      for (;;) { const m = await ipc.recv({ timeoutMs: 2000 }); if (!m) break; console.log('got ' + m.data.toString()); }
      await ipc.close(); await db.close(); console.log('done');`);
    await second.waitFor(1, /^done$/);
    const delivered = [...first.lines, ...second.lines].filter((l) => l.startsWith('got ')).map((l) => Number(l.slice(4)));
    expect(delivered).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
