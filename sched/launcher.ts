// The process launcher, run as a child of a worker agent. Starting a process
// forks its parent, and fork costs grow with the parent's memory: a worker
// agent (database pool, filesystem shim) starts about 300 processes a second
// on a small machine, this small process about 750. So the agent asks it over
// IPC to start tasks; it streams their output and exit status back.
// This file imports nothing but node:child_process on purpose.
import { spawn, type ChildProcess } from 'node:child_process';

export type LauncherRequest =
  | { op: 'start'; id: number; file: string; args: string[]; cwd: string; env: Record<string, string>; uid?: number; gid?: number }
  | { op: 'kill'; id: number; signal: NodeJS.Signals };

export type LauncherEvent =
  | { op: 'started'; id: number; pid: number }
  | { op: 'failed'; id: number; code: string; message: string }
  | { op: 'data'; id: number; stream: 1 | 2; chunk: Buffer }
  | { op: 'exit'; id: number; code: number | null; signal: string | null };

function serve(): void {
  const children = new Map<number, ChildProcess>();
  const send = (e: LauncherEvent) => process.send?.(e);
  process.on('message', (m: LauncherRequest) => {
    if (m.op === 'kill') {
      children.get(m.id)?.kill(m.signal);
      return;
    }
    const child = spawn(m.file, m.args, {
      cwd: m.cwd, env: m.env, stdio: ['ignore', 'pipe', 'pipe'],
      ...(m.uid !== undefined ? { uid: m.uid, gid: m.gid } : {}),
    });
    if (child.pid === undefined) {
      child.once('error', (e: NodeJS.ErrnoException) => send({ op: 'failed', id: m.id, code: e.code ?? 'EIO', message: e.message }));
      return;
    }
    children.set(m.id, child);
    send({ op: 'started', id: m.id, pid: child.pid });
    child.stdout!.on('data', (chunk: Buffer) => send({ op: 'data', id: m.id, stream: 1, chunk }));
    child.stderr!.on('data', (chunk: Buffer) => send({ op: 'data', id: m.id, stream: 2, chunk }));
    child.once('close', (code, signal) => {
      children.delete(m.id);
      send({ op: 'exit', id: m.id, code, signal });
    });
  });
  // The agent gone means nobody to report to: stop everything.
  process.on('disconnect', () => {
    for (const c of children.values()) c.kill('SIGKILL');
    process.exit(0);
  });
}

if (process.send) serve();
