// Messaging through the CLI and through mailbox files in a real mount, with
// the dbos ipc daemon running as a process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, sh, startDbos, type Daemon } from '../helpers/cli.js';
import { freshDatabase, type TestDb } from '../helpers/db.js';

// Its own DBOS_HOME: the daemon's socket and the mount's records live there.
const home = mkdtempSync('/tmp/dbos-ipc-it-');
// Other users must be able to reach the mount point inside it.
chmodSync(home, 0o755);
const mp = join(home, 'mnt');
let t: TestDb;
let daemon: Daemon;
let env: Record<string, string>;

function dbos(args: string[], input?: string | Buffer) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, input, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  t = await freshDatabase();
  env = { DBOS_HOME: home, DBOS_DB_URL: t.url };
  daemon = await startDbos(['ipc'], env, /listening on/);
  for (const name of ['alice', 'bob']) expect(dbos(['mailbox', 'create', name]).code).toBe(0);
  await sh(`mkdir ${mp}`);
  const m = dbos(['mount', mp]);
  expect(m.code, m.stderr).toBe(0);
});
afterAll(async () => {
  dbos(['umount', mp]);
  await daemon?.stop();
  rmSync(home, { recursive: true, force: true });
  await t?.drop();
});

describe('dbos send and dbos recv', () => {
  it('round-trip a message, from an argument or from stdin, with a topic', () => {
    expect(dbos(['send', 'bob', 'hello bob', '--from', 'alice']).code).toBe(0);
    const r = dbos(['recv', '--as', 'bob', '--timeout', '5000', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ sender: 'alice', topic: '', data: 'hello bob' });
    expect(dbos(['send', 'bob', '-', '--topic', 'logs'], 'from stdin\n').code).toBe(0);
    expect(dbos(['send', 'bob', 'other topic', '--topic', 'misc']).code).toBe(0);
    expect(dbos(['recv', '--as', 'bob', '--topic', 'logs', '--timeout', '5000']).stdout).toBe('from stdin\n');
    expect(dbos(['recv', '--as', 'bob', '--timeout', '5000']).stdout).toBe('other topic');
  });

  it('wakes a waiting receiver as soon as a message arrives', async () => {
    const waiting = spawn(process.execPath, [CLI, 'recv', '--as', 'alice'], { env: { ...process.env, ...env } });
    let out = '';
    waiting.stdout.on('data', (d) => { out += d; });
    const done = new Promise<number>((res) => waiting.once('exit', (c) => res(c ?? -1)));
    await new Promise((r) => setTimeout(r, 1500));
    expect(dbos(['send', 'alice', 'wake up']).code).toBe(0);
    expect(await done).toBe(0);
    expect(out).toBe('wake up');
  });

  it('says clearly what is wrong, and sends nothing', () => {
    const cases: [string[], RegExp, (string | Buffer)?][] = [
      [['send', 'nobody-at-all', 'x'], /no mailbox "nobody-at-all"; nothing was sent/],
      [['send', 'bob', '-'], /a message is at most 4194304 bytes \(this one is 5242880\)/, Buffer.alloc(5 << 20)],
      [['recv', '--as', 'bob', '--timeout', '200'], /no message arrived in mailbox "bob" within 200 ms/],
      [['recv', '--count', '0'], /--count must be a whole number of at least 1/],
      [['mailbox', 'create', 'bob'], /mailbox "bob" exists already/],
      [['send', 'a/b', 'x'], /a mailbox name is 1 to 255 bytes without "\/"/],
    ];
    for (const [args, pattern, input] of cases) {
      const r = dbos(args, input);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
    const list = JSON.parse(dbos(['mailbox', 'list', '--json']).stdout) as { name: string; waiting: number }[];
    expect(list.find((b) => b.name === 'bob')!.waiting).toBe(0);
  });
});

describe('mailbox files in the mount', () => {
  it('let two shell scripts talk through the DBOS store', async () => {
    const ipc = join(mp, '.ipc');
    const b = sh(`msg=$(cat ${ipc}/bob); echo "pong:$msg" > ${ipc}/alice`);
    const a = await sh(`sleep 0.3; echo ping > ${ipc}/bob; cat ${ipc}/alice`);
    await b;
    expect(a).toBe('pong:ping\n');
  });

  it('list mailboxes, stay out of the root listing, and refuse what they cannot do', async () => {
    const ipc = join(mp, '.ipc');
    expect((await sh(`ls ${ipc}`)).split('\n').filter(Boolean)).toEqual(expect.arrayContaining(['alice', 'bob']));
    expect(await sh(`ls -a ${mp}`)).not.toContain('.ipc');
    // Their inode numbers lie above 2^52, out of Directory's range: the binding carries all 64 bits.
    const [dirIno, alice, bob] = (await sh(`stat -c %i ${ipc} ${ipc}/alice ${ipc}/bob`)).split('\n').filter(Boolean).map(Number);
    expect(dirIno).toBe(2 ** 52);
    expect(new Set([dirIno, alice, bob]).size).toBe(3);
    expect(Math.min(alice!, bob!)).toBeGreaterThan(2 ** 52);
    const errors = await sh(`
      { echo x > ${ipc}/nobody-here; } 2>&1 | sed 's/.*: //'
      { head -c 5000000 /dev/zero > ${ipc}/bob; } 2>&1 | sed 's/.*: //' | head -1
      dd if=/dev/zero of=${ipc}/bob bs=1 count=1 seek=10 conv=notrunc 2>&1 | grep -o 'Invalid argument' | head -1
      setpriv --reuid=65534 --regid=65534 --clear-groups cat ${ipc}/alice 2>&1 | sed 's/.*: //'
      rm ${ipc}/alice 2>&1 | sed 's/.*: //'
      ln -s alice ${ipc}/link 2>&1 | sed 's/.*: //'
      mkdir ${ipc}/dir 2>&1 | sed 's/.*: //'
      mv ${ipc}/alice ${ipc}/carol 2>&1 | sed 's/.*: //'
      true`);
    expect(errors.split('\n').filter(Boolean)).toEqual(['No such file or directory', 'File too large', 'Invalid argument', 'Permission denied',
      'Permission denied', 'Permission denied', 'Permission denied', 'Permission denied']);
    // A symlink elsewhere, even one pointing into .ipc, is an ordinary symlink.
    await sh(`ln -s .ipc/alice ${mp}/to-alice && test "$(readlink ${mp}/to-alice)" = .ipc/alice && rm ${mp}/to-alice`);
    // None of those sent anything.
    expect(dbos(['recv', '--as', 'bob', '--timeout', '300']).code).toBe(1);
  });

  it('other users may write to a mailbox they cannot read', async () => {
    await sh(`setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo from-nobody > ${join(mp, '.ipc', 'alice')}'`);
    const r = dbos(['recv', '--as', 'alice', '--timeout', '5000', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ data: 'from-nobody\n' });
    expect(JSON.parse(r.stdout).sender).not.toBe('root');
  });
});
