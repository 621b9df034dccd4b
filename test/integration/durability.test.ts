// fsync(2) on the mount puts the commits before it on disk. The test server,
// like the private server, runs with innodb_flush_log_at_trx_commit=2, under
// which MariaDB syncs its redo log only about once a second; the daemon must
// sync it itself before it answers. Watched with strace, in both processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readRecord } from '../../fs/fuse/registry.js';
import { mountFresh, sh, type Mounted } from '../helpers/cli.js';
import { testHome } from '../helpers/db.js';

let m: Mounted;
const traces = mkdtempSync('/tmp/dbos-strace-');
let traced = 0;
let daemonPid: number;
const redoLog = () => join(testHome().dataDir, 'ib_logfile0');

beforeAll(async () => {
  m = await mountFresh();
  daemonPid = readRecord(testHome(), m.mountpoint)!.pid;
  const [row] = await m.t.db.rows<{ v: number }>('SELECT @@GLOBAL.innodb_flush_log_at_trx_commit AS v');
  expect(Number(row!.v)).toBe(2);
});

afterAll(async () => {
  await m?.umount();
  rmSync(traces, { recursive: true, force: true });
});

/** A syscall as `strace -ttt -T` prints it: when it started and ended (seconds), and its line. */
interface Call { start: number; end: number; line: string }

function parseCalls(text: string): Call[] {
  return text.split('\n').flatMap((line) => {
    const t = /^(?:\d+\s+)?(\d+\.\d+) .*<(\d+\.\d+)>$/.exec(line);
    return t ? [{ start: Number(t[1]), end: Number(t[1]) + Number(t[2]), line }] : [];
  });
}

/** Traces the daemon's fdatasync calls while `work` runs. */
async function daemonSyncsDuring(work: () => Promise<void>): Promise<Call[]> {
  const out = join(traces, `daemon-${traced++}.log`);
  const tracer: ChildProcess = spawn('strace', ['-f', '-y', '-ttt', '-T', '-e', 'trace=fdatasync,fsync', '-o', out, '-p', String(daemonPid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  tracer.stderr!.on('data', (d) => { err += d; });
  const deadline = Date.now() + 10_000;
  while (!/attached/.test(err)) {
    if (tracer.exitCode !== null || Date.now() > deadline) throw new Error(`strace could not attach to the daemon: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  try {
    await work();
  } finally {
    const exited = new Promise((r) => tracer.once('exit', r));
    tracer.kill('SIGINT');
    await exited;
  }
  return parseCalls(readFileSync(out, 'utf8')).filter((c) => c.line.includes(`<${redoLog()}>`));
}

/** Runs python3 under strace; returns its calls of `syscall` on files in the mount. */
async function clientCalls(script: string, syscall = 'fsync'): Promise<Call[]> {
  const out = join(traces, `client-${traced++}.log`);
  await sh(`strace -f -y -ttt -T -e trace=${syscall} -o ${out} python3 -c "${script}"`);
  return parseCalls(readFileSync(out, 'utf8')).filter((c) => c.line.includes(`<${m.mountpoint}/`));
}

describe('fsync on the mount', () => {
  it('syncs the server redo log before a file fsync returns, and not for a close alone', async () => {
    const file = join(m.mountpoint, 'fsynced');
    const closedOnly = await daemonSyncsDuring(async () => {
      await sh(`python3 -c "import os; fd = os.open('${file}', os.O_WRONLY | os.O_CREAT, 0o644); os.write(fd, b'closed'); os.close(fd)"`);
    });
    expect(closedOnly).toEqual([]);

    let client: Call[] = [];
    const daemon = await daemonSyncsDuring(async () => {
      client = await clientCalls(`import os; fd = os.open('${file}', os.O_WRONLY | os.O_TRUNC); os.write(fd, b'durable'); os.fsync(fd); os.close(fd)`);
    });
    expect(client).toHaveLength(1);
    expect(daemon.length).toBeGreaterThanOrEqual(1);
    // The log was synced while the client's fsync was waiting, and finished before it returned.
    expect(daemon.some((d) => d.start >= client[0]!.start && d.end <= client[0]!.end)).toBe(true);
    expect(await sh(`cat ${file}`)).toBe('durable');
  });

  it('syncs it inside each write(2) to a file opened O_SYNC', async () => {
    const file = join(m.mountpoint, 'osync');
    await sh(`touch ${file}`);
    let client: Call[] = [];
    const daemon = await daemonSyncsDuring(async () => {
      client = await clientCalls(`import os; fd = os.open('${file}', os.O_WRONLY | os.O_SYNC); os.write(fd, b'synced'); os.close(fd)`, 'write');
    });
    expect(client).toHaveLength(1);
    expect(daemon.some((d) => d.start >= client[0]!.start && d.end <= client[0]!.end)).toBe(true);
    expect(await sh(`cat ${file}`)).toBe('synced');
  });

  it('syncs it for an fsync of a directory too (a new name made durable)', async () => {
    const dir = join(m.mountpoint, 'd');
    await sh(`mkdir ${dir} && touch ${dir}/new-name`);
    let client: Call[] = [];
    const daemon = await daemonSyncsDuring(async () => {
      client = await clientCalls(`import os; fd = os.open('${dir}', os.O_RDONLY | os.O_DIRECTORY); os.fsync(fd); os.close(fd)`);
    });
    expect(client).toHaveLength(1);
    expect(daemon.some((d) => d.start >= client[0]!.start && d.end <= client[0]!.end)).toBe(true);
  });
});
