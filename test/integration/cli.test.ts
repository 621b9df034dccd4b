// The dbos command as a user meets it: clear one-sentence errors with a
// non-zero exit, mounts that unmount cleanly, SQL over the files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAEMON_NODE_FLAGS } from '../../fs/fuse/daemon.js';
import { mountedAt } from '../../fs/fuse/mountpoint.js';
import { alive, readRecord } from '../../fs/fuse/registry.js';
import { SCHEMA_VERSION, schemaVersion } from '../../schema/migrations.js';
import { dbos, mountFresh, sh, type Mounted } from '../helpers/cli.js';
import { freshDatabase, testHome, type TestDb } from '../helpers/db.js';

let m: Mounted;
const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'dbos-cli-'));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  m = await mountFresh();
});
afterAll(async () => {
  await m?.umount();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** One line of text, ending in a full stop, prefixed by "dbos:". */
function expectOneSentence(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^dbos: .+\.$/);
  expect(lines[0]).toMatch(pattern);
}

describe('mount errors', () => {
  it('refuses a missing, non-empty, or non-directory mount point, and a second mount', () => {
    const base = scratch();
    let r = dbos(['mount', join(base, 'missing')], { DBOS_DB_URL: m.t.url });
    expect(r.code).not.toBe(0);
    expectOneSentence(r.stderr, /does not exist/);

    mkdirSync(join(base, 'full'));
    writeFileSync(join(base, 'full', 'x'), 'x');
    r = dbos(['mount', join(base, 'full')], { DBOS_DB_URL: m.t.url });
    expect(r.code).not.toBe(0);
    expectOneSentence(r.stderr, /is not empty/);

    writeFileSync(join(base, 'file'), 'x');
    r = dbos(['mount', join(base, 'file')], { DBOS_DB_URL: m.t.url });
    expectOneSentence(r.stderr, /not a directory/);

    r = dbos(['mount', m.mountpoint], { DBOS_DB_URL: m.t.url });
    expect(r.code).not.toBe(0);
    expectOneSentence(r.stderr, /already mounted/);
  });

  it('refuses wrong database URLs with one sentence that never shows the password', () => {
    const mp = scratch();
    const bad = (url: string) => dbos(['mount', mp, '--db', url]);
    const cases: [string, RegExp][] = [
      ['not a url', /not a database URL/],
      ['postgres://u:pw@localhost/db', /must start with mysql/],
      ['mysql://u:pw@127.0.0.1:1/db', /cannot reach the database/],
      [m.t.url.replace(/:[^:@/]+@/, ':Sup3rSecretWrong@'), /refused the login/],
      [m.t.url.replace(/\/t_[0-9a-f]+\?/, '/no_such_db?'), /does not exist/],
      ['mysql://u:pw@localhost/bad-name!', /may only contain/],
    ];
    for (const [url, pattern] of cases) {
      const r = bad(url);
      expect(r.code, url).not.toBe(0);
      expectOneSentence(r.stderr, pattern);
      expect(r.stderr + r.stdout).not.toContain('Sup3rSecretWrong');
      expect(r.stderr + r.stdout).not.toContain(':pw@');
    }
    expect(mountedAt(mp)).toBeUndefined();
  });

  it('says so when unmounting something that is not mounted', () => {
    const r = dbos(['umount', scratch()]);
    expect(r.code).not.toBe(0);
    expectOneSentence(r.stderr, /is not mounted/);
  });

  it('detects a stale mount whose daemon died, and umount clears it', async () => {
    const t = await freshDatabase();
    const mp = scratch();
    expect(dbos(['mount', mp], { DBOS_DB_URL: t.url }).code).toBe(0);
    const rec = readRecord(testHome(), mp)!;
    process.kill(rec.pid, 'SIGKILL');
    for (let i = 0; i < 50 && alive(rec.pid); i++) await new Promise((r) => setTimeout(r, 100));
    const again = dbos(['mount', mp], { DBOS_DB_URL: t.url });
    expect(again.code).not.toBe(0);
    expectOneSentence(again.stderr, /stale mount/);
    const u = dbos(['umount', mp]);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stdout).toMatch(/stale/);
    expect(mountedAt(mp)).toBeUndefined();
    expect(dbos(['mount', mp], { DBOS_DB_URL: t.url }).code).toBe(0);
    expect(dbos(['umount', mp]).code).toBe(0);
    await t.drop();
  });
});

describe('the mount daemon', () => {
  it('runs with the Node flags that keep the collector off a stream of reads', () => {
    const rec = readRecord(testHome(), m.mountpoint)!;
    const args = readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8').split('\0');
    expect(DAEMON_NODE_FLAGS.length).toBeGreaterThan(0);
    for (const flag of DAEMON_NODE_FLAGS) expect(args.indexOf(flag)).toBeGreaterThan(0);
  });

  it('keeps the password out of ps, its arguments and its log', async () => {
    const password = m.t.target.password;
    const ps = await sh('ps -eo args');
    expect(ps).toContain(m.mountpoint);
    expect(ps).not.toContain(password);
    const rec = readRecord(testHome(), m.mountpoint)!;
    expect(readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8')).not.toContain(password);
    expect(readFileSync(rec.log, 'utf8')).not.toContain(password);
    expect(JSON.stringify(rec)).not.toContain(password);
    const status = dbos(['status', '--json']);
    expect(status.stdout).not.toContain(password);
    expect(JSON.parse(status.stdout).mounts.some((x: { mountpoint: string; running: boolean }) => x.mountpoint === m.mountpoint && x.running)).toBe(true);
  });

  it('on SIGTERM commits buffered writes of still-open files, then unmounts', async () => {
    const t = await freshDatabase();
    const mp = scratch();
    expect(dbos(['mount', mp], { DBOS_DB_URL: t.url }).code).toBe(0);
    // A writer that has written (into the daemon's buffer) but not closed.
    const writer = spawn('python3', ['-c', `
import os, sys, time
fd = os.open(${JSON.stringify(join(mp, 'open.txt'))}, os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b'buffered ' * 1000)
print('written', flush=True)
time.sleep(60)
`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => writer.stdout!.once('data', () => resolve()));
    const rows = async () => t.db.rows("SELECT COUNT(*) AS n FROM Localized_file WHERE f_name = '/open.txt' AND block_no >= 0");
    expect(Number((await rows())[0]!.n)).toBe(0);
    const rec = readRecord(testHome(), mp)!;
    process.kill(rec.pid, 'SIGTERM');
    for (let i = 0; i < 200 && alive(rec.pid); i++) await new Promise((r) => setTimeout(r, 100));
    writer.kill('SIGKILL');
    expect(alive(rec.pid)).toBe(false);
    expect(mountedAt(mp)).toBeUndefined();
    const size = await t.db.rows("SELECT f_size FROM Localized_file WHERE f_name = '/open.txt' AND block_no = -1");
    expect(Number(size[0]!.f_size)).toBe(9000);
    expect(existsSync(join(testHome().runDir, 'x'))).toBe(false);
    await t.drop();
  });
});

describe('dbos sql', () => {
  it("the paper's query (size per owner of files of at least 20 KiB) agrees with find on the mount", async () => {
    const mp = m.mountpoint;
    await sh(`mkdir -p ${mp}/an/sub && cd ${mp}/an &&
      head -c 20480 /dev/urandom > exactly20k && head -c 20479 /dev/urandom > under20k &&
      head -c 100000 /dev/urandom > sub/big1 && head -c 300000 /dev/urandom > sub/big2 && head -c 50000 /dev/urandom > sub/big3 &&
      cp -a /usr/share/doc/git sub/ 2>/dev/null || true;
      chown 1001 sub/big1 under20k && chown 1002 sub/big2`);
    const query = 'SELECT f_owner, SUM(f_size) AS total FROM Localized_file WHERE f_size >= 20480 GROUP BY f_owner';
    const r = dbos(['sql', query, '--json'], { DBOS_DB_URL: m.t.url });
    expect(r.code, r.stderr).toBe(0);
    const fromSql = Object.fromEntries((JSON.parse(r.stdout) as { f_owner: string; total: number }[]).map((x) => [x.f_owner, x.total]));
    // find reports uids; the User table maps them to the paper's user names.
    const users = Object.fromEntries((await m.t.db.rows('SELECT uid, user_name FROM User')).map((u) => [String(u.uid), u.user_name as string]));
    const found = await sh(`find ${mp} -type f -size +20479c -printf '%U %s\\n'`);
    const fromFind: Record<string, number> = {};
    for (const line of found.trim().split('\n')) {
      const [uid, size] = line.split(' ');
      const name = users[uid!]!;
      fromFind[name] = (fromFind[name] ?? 0) + Number(size);
    }
    expect(Object.keys(fromFind).length).toBeGreaterThanOrEqual(3);
    expect(fromSql).toEqual(fromFind);
    const du = Number((await sh(`find ${mp} -type f -size +20479c -print0 | du -cb --apparent-size --files0-from=- | tail -1`)).split('\t')[0]);
    expect(Object.values(fromSql).reduce((a, b) => a + b, 0)).toBe(du);
  });

  it('prints an aligned table, counts changed rows, and explains bad SQL in one sentence', async () => {
    await sh(`mkdir ${m.mountpoint}/tbl && cd ${m.mountpoint}/tbl && echo 1 > a && mkdir sub && echo 22 > 'c d'`);
    const table = dbos(['sql', "SELECT content, content_type, protection_info FROM Directory WHERE d_name = '/tbl' ORDER BY content"], { DBOS_DB_URL: m.t.url });
    expect(table.code).toBe(0);
    expect(table.stdout).toBe([
      'content  content_type  protection_info',
      '-------  ------------  ---------------',
      'a        file                      420',
      'c d      file                      420',
      'sub      directory                 493',
      '(3 rows)', ''].join('\n'));
    const changed = dbos(['sql', "UPDATE Directory SET mtime = mtime WHERE d_name = '/tbl'"], { DBOS_DB_URL: m.t.url });
    expect(changed.stdout.trim()).toBe('(3 rows affected)');
    const bad = dbos(['sql', 'SELEC nonsense'], { DBOS_DB_URL: m.t.url });
    expect(bad.code).not.toBe(0);
    expectOneSentence(bad.stderr, /SQL error: You have an error in your SQL syntax/);
  });
});

describe('dbos up, status and fs settings', () => {
  it('dbos up is idempotent and dbos fs placement works on a path on the mount', async () => {
    const t: TestDb = await freshDatabase();
    const up = dbos(['up', '--db', t.url]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/up to date/);
    expect(up.stdout).not.toContain(t.target.password);
    await t.drop();
    await sh(`mkdir ${m.mountpoint}/bigdata`);
    const set = dbos(['fs', 'placement', join(m.mountpoint, 'bigdata'), 'parallel', '--db', m.t.url]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout.trim()).toBe('/bigdata: parallel');
    const bad = dbos(['fs', 'placement', join(m.mountpoint, 'bigdata'), 'sideways', '--db', m.t.url]);
    expectOneSentence(bad.stderr, /placement must be/);
    const missing = dbos(['fs', 'blocksize', '/no/such/dir', '--db', m.t.url]);
    expect(missing.code).not.toBe(0);
    expectOneSentence(missing.stderr, /ENOENT/);
  });

  it('dbos up refuses to migrate a database while a mount of an older build uses it, and migrates it once none does', async () => {
    const older = SCHEMA_VERSION - 1;
    const setVersion = (t: TestDb, v: number) => t.db.run("UPDATE Dbos_meta SET value = ? WHERE name = 'schema_version'", [String(v)]);
    // The test's mount runs against m.t: make its database look one version old.
    await setVersion(m.t, older);
    try {
      const refused = dbos(['up', '--db', m.t.url]);
      expect(refused.code).not.toBe(0);
      expectOneSentence(refused.stderr, new RegExp(`${m.mountpoint} still uses schema version ${older} of this database; run "dbos umount" first`));
      expect(await schemaVersion(m.t.db)).toBe(older);
    } finally {
      await setVersion(m.t, SCHEMA_VERSION);
    }
    // The same state with no mount: dbos up migrates.
    const t = await freshDatabase();
    try {
      await setVersion(t, older);
      const up = dbos(['up', '--db', t.url]);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stdout).toMatch(new RegExp(`migrated from version ${older} to ${SCHEMA_VERSION}`));
      expect(await schemaVersion(t.db)).toBe(SCHEMA_VERSION);
    } finally {
      await t.drop();
    }
  });

  it('dbos fs usage counts the bytes per owner of the files of at least --min-size, as files written through the mount left them', async () => {
    const d = `${m.mountpoint}/usage`;
    await sh(`mkdir ${d} && head -c 30000 /dev/zero > ${d}/a && head -c 20480 /dev/zero > ${d}/b && head -c 20479 /dev/zero > ${d}/c`);
    await sh(`head -c 50000 /dev/zero > ${d}/d && chown 60077 ${d}/d && : > ${d}/empty`);
    const json = dbos(['fs', 'usage', '--min-size', '20K', '--json', '--db', m.t.url]);
    expect(json.code, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout) as { owner: string; files: number; bytes: number }[];
    expect(rows.find((r) => r.owner === 'uid60077')).toEqual({ owner: 'uid60077', files: 1, bytes: 50000 });
    // Other tests leave root's files here too: compare with SQL over the same tables.
    const sql = dbos(['sql', 'SELECT COUNT(*) AS n, SUM(f_size) AS s FROM (SELECT f_owner, f_size FROM Localized_file UNION ALL SELECT f_owner, f_size FROM Parallel_file) AS f WHERE f_size >= 20480 AND f_owner = \'root\'', '--json', '--db', m.t.url]);
    const [root] = JSON.parse(sql.stdout) as { n: number; s: number }[];
    expect(rows.find((r) => r.owner === 'root')).toEqual({ owner: 'root', files: root!.n, bytes: root!.s });
    const table = dbos(['fs', 'usage', '--min-size', '49999', '--db', m.t.url]);
    expect(table.stdout).toMatch(/^owner\s+files\s+bytes\n/);
    expect(table.stdout).toMatch(/\nuid60077\s+1\s+50000\n/);
    for (const bad of ['0', 'lots']) {
      const r = dbos(['fs', 'usage', '--min-size', bad, '--db', m.t.url]);
      expect(r.code).not.toBe(0);
      expectOneSentence(r.stderr, /--min-size/);
    }
  });
});
