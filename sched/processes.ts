// The worker agent's side of the launcher: start a task's process, get its
// output and its end as callbacks.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LauncherEvent, LauncherRequest } from './launcher.js';

const LAUNCHER = fileURLToPath(new URL('./launcher.js', import.meta.url));

export interface ProcessHandlers {
  onOutput(stream: 1 | 2, chunk: Buffer): void;
  onExit(code: number | null, signal: string | null): void;
}

export type StartResult = { pid: number } | { error: NodeJS.ErrnoException };

interface Pending extends ProcessHandlers {
  started?: (r: StartResult) => void;
}

export class ProcessLauncher {
  private readonly child: ChildProcess;
  private readonly tasks = new Map<number, Pending>();
  private nextId = 1;

  constructor() {
    this.child = fork(LAUNCHER, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    this.child.on('message', (e: LauncherEvent) => this.onEvent(e));
    this.child.on('exit', () => {
      for (const [id, t] of this.tasks) {
        t.started?.({ error: Object.assign(new Error('the process launcher exited'), { code: 'EIO' }) });
        t.onExit(null, 'SIGKILL');
        this.tasks.delete(id);
      }
    });
  }

  private onEvent(e: LauncherEvent): void {
    const t = this.tasks.get(e.id);
    if (!t) return;
    if (e.op === 'started') t.started?.({ pid: e.pid });
    else if (e.op === 'failed') {
      t.started?.({ error: Object.assign(new Error(e.message), { code: e.code }) });
      this.tasks.delete(e.id);
    } else if (e.op === 'data') t.onOutput(e.stream, Buffer.from(e.chunk));
    else {
      this.tasks.delete(e.id);
      t.onExit(e.code, e.signal);
    }
  }

  /** Starts `file` with `args`; resolves with its pid or the error that kept it from starting. */
  start(spec: { file: string; args: string[]; cwd: string; env: Record<string, string>; uid?: number; gid?: number }, handlers: ProcessHandlers): { id: number; started: Promise<StartResult> } {
    const id = this.nextId++;
    const started = new Promise<StartResult>((resolve) => this.tasks.set(id, { ...handlers, started: resolve }));
    const req: LauncherRequest = { op: 'start', id, ...spec };
    this.child.send(req);
    return { id, started };
  }

  kill(id: number, signal: NodeJS.Signals): void {
    if (this.tasks.has(id)) this.child.send({ op: 'kill', id, signal } satisfies LauncherRequest);
  }

  /** Stops the launcher (it kills what still runs). */
  close(): void {
    if (this.child.connected) this.child.disconnect();
  }
}
