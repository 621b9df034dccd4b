// Runs the built dbos CLI (dist/) the way a user does, against the test run's
// DBOS_HOME, and mounts fresh databases for integration tests.
import { execFile, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freshDatabase, testHome, type TestDb } from './db.js';

export const CLI = resolve('dist/cli/dbos.js');
const execFileP = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, DBOS_HOME: testHome().root, ...extra };
}

export function dbos(args: string[], env: Record<string, string> = {}): CliResult {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [CLI, ...args], { env: cliEnv(env), encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a shell command (bash -c) and returns stdout, throwing with stderr on failure. */
export async function sh(cmd: string, opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  try {
    const { stdout } = await execFileP('bash', ['-o', 'pipefail', '-c', cmd], {
      cwd: opts.cwd, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 256 << 20, env: opts.env ?? process.env,
    });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`command failed: ${cmd}\n${err.stderr ?? ''}${err.stdout?.slice(-2000) ?? ''}\n${err.message}`);
  }
}

export interface Mounted {
  mountpoint: string;
  t: TestDb;
  umount(): Promise<void>;
}

/** A fresh database mounted through the CLI at a new empty directory. */
export async function mountFresh(): Promise<Mounted> {
  const t = await freshDatabase();
  const mountpoint = mkdtempSync(join(tmpdir(), 'dbos-mnt-'));
  const r = dbos(['mount', mountpoint], { DBOS_DB_URL: t.url });
  if (r.code !== 0) throw new Error(`dbos mount failed: ${r.stderr}`);
  return {
    mountpoint, t,
    async umount() {
      const u = dbos(['umount', mountpoint]);
      if (u.code !== 0) {
        spawnSync('fusermount', ['-uz', mountpoint]);
        throw new Error(`dbos umount failed: ${u.stderr}`);
      }
      rmSync(mountpoint, { recursive: true, force: true });
      await t.drop();
    },
  };
}

export interface Daemon {
  pid: number;
  output(): string;
  /** Sends a signal and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts a long-running dbos command (sched, worker) in the background. */
export async function startDbos(args: string[], env: Record<string, string>, readyText?: RegExp): Promise<Daemon> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  if (readyText) {
    const deadline = Date.now() + 30_000;
    while (!readyText.test(out)) {
      if (child.exitCode !== null) throw new Error(`dbos ${args.join(' ')} exited: ${out}`);
      if (Date.now() > deadline) throw new Error(`dbos ${args.join(' ')} did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    pid: child.pid!,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
