// When the database goes away: operations fail with EIO instead of hanging
// (a write the binding already answered fails at close), the mount recovers
// by itself when the database returns, and nothing that was fsynced is lost,
// even when mariadbd is killed with SIGKILL. This file runs its own private
// server (its own DBOS_HOME) through the CLI.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, sh } from '../helpers/cli.js';

const home = mkdtempSync('/tmp/dbos-rec-');
const mp = join(home, 'mnt');
const env = { ...process.env, DBOS_HOME: home, DBOS_DB_URL: '' };
delete (env as Record<string, string | undefined>).DBOS_DB_URL;

function dbos(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const serverPid = () => Number(readFileSync(join(home, 'mariadb.pid'), 'utf8').trim());

/** Runs a shell command on the mount; returns its exit code, stderr and how long it took. */
function timed(cmd: string) {
  const start = Date.now();
  const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stderr: r.stderr, ms: Date.now() - start };
}

/** `timed(cmd)`, run again every 250 ms (up to 20 times) while the mount is still reconnecting. */
async function onceBack(cmd: string) {
  let r = timed(cmd);
  for (let i = 0; i < 20 && r.code !== 0; i++) {
    await new Promise((res) => setTimeout(res, 250));
    r = timed(cmd);
  }
  return r;
}

const fsyncWrite = (path: string, text: string) =>
  sh(`python3 -c "import os; fd = os.open('${path}', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); os.write(fd, b'${text}'); os.fsync(fd); os.close(fd)"`);

beforeAll(async () => {
  const up = dbos('up', '--memory', '256M');
  expect(up.code, up.stderr).toBe(0);
  expect(dbos('up').stdout).toMatch(/up to date/);
  await sh(`mkdir ${mp}`);
  const m = dbos('mount', mp);
  expect(m.code, m.stderr).toBe(0);
});

afterAll(async () => {
  try { process.kill(serverPid(), 'SIGCONT'); } catch { /* not running */ }
  dbos('umount', mp);
  dbos('down', '--force');
  rmSync(home, { recursive: true, force: true });
});

describe('database outages', () => {
  it('a frozen database gives EIO within the deadline, and the mount carries on once it thaws', async () => {
    await fsyncWrite(`${mp}/before`, 'kept');
    process.kill(serverPid(), 'SIGSTOP');
    try {
      // One system call (one FUSE lookup): touch would retry with utimensat.
      const r = timed(`mkdir ${mp}/during-freeze`);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Input\/output error/);
      // The shim's deadline is 4.5 s; allow scheduling noise, but never a hang.
      expect(r.ms).toBeLessThan(6000);
    } finally {
      process.kill(serverPid(), 'SIGCONT');
    }
    const after = timed(`touch ${mp}/after-thaw && cat ${mp}/before`);
    expect(after.code, after.stderr).toBe(0);
  });

  it('reports at close a write that failed after write(2) had returned, and shows the file as stored', async () => {
    await fsyncWrite(`${mp}/answered`, 'abcdefgh');
    expect(await sh(`cat ${mp}/answered`)).toBe('abcdefgh'); // now in the kernel's page cache
    // Until the daemon has handled the (queued) release, the closed file's blocks stay cached.
    await new Promise((res) => setTimeout(res, 500));
    // The binding answers the write at once; the daemon then needs the
    // committed block under it, and the server is down.
    const r = spawnSync('python3', ['-c', `
import os, subprocess, sys, time
path, node, cli = sys.argv[1:4]
fd = os.open(path, os.O_WRONLY)
subprocess.run([node, cli, 'down', '--force'], check=True, capture_output=True)
t = time.time()
os.pwrite(fd, b'X', 3)
print('write returned after %.1f s' % (time.time() - t))
time.sleep(2)
try:
    os.close(fd)
    print('close succeeded')
except OSError as e:
    print('close failed: ' + e.strerror)`, `${mp}/answered`, process.execPath, CLI], { env, encoding: 'utf8', timeout: 120_000 });
    // (No child after the write: the first close of a shared handle, even at a child's exec, is the one told.)
    expect(dbos('up').code).toBe(0);
    expect(r.stdout, r.stderr).toMatch(/write returned after 0\.\d s/);
    expect(r.stdout).toMatch(/close failed: Input\/output error/);
    // The file reads as stored.
    await onceBack(`cat ${mp}/answered`);
    expect(await sh(`cat ${mp}/answered`)).toBe('abcdefgh');
  });

  it('survives a clean restart of the database without remounting', async () => {
    await fsyncWrite(`${mp}/restart`, 'still here');
    const down = dbos('down', '--force');
    expect(down.code, down.stderr).toBe(0);
    const refused = timed(`touch ${mp}/while-down`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Input\/output error/);
    expect(dbos('up').code).toBe(0);
    const ok = await onceBack(`touch ${mp}/back-up`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await sh(`cat ${mp}/restart`)).toBe('still here');
  });

  it('keeps fsynced and closed files when mariadbd is killed with SIGKILL', async () => {
    await fsyncWrite(`${mp}/fsynced`, 'durable');
    await sh(`echo closed-not-fsynced > ${mp}/closed`);
    process.kill(serverPid(), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    const up = dbos('up');
    expect(up.code, up.stderr).toBe(0);
    await onceBack(`cat ${mp}/fsynced`);
    expect(await sh(`cat ${mp}/fsynced`)).toBe('durable');
    // A commit reaches the OS at once, so a mariadbd crash (not a power cut) keeps it too.
    expect(await sh(`cat ${mp}/closed`)).toBe('closed-not-fsynced\n');
  });

  it('unmounts and stops cleanly, and status says so', () => {
    expect(dbos('umount', mp).code).toBe(0);
    const down = dbos('down');
    expect(down.code, down.stderr).toBe(0);
    expect(dbos('status').stdout).toMatch(/private:\s+not running/);
    const again = dbos('mount', mp);
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim()).toMatch(/^dbos: the private database is not running .*run "dbos up" first.*\.$/);
  });
});
