// Processes as /proc shows them. Whether a process we started is still
// running: a dead process can linger as a zombie until its parent reaps it, and
// a pid can be reused by an unrelated program, so both the state and the
// command name are read. A pid file's number, and which files a process holds.
import { readdirSync, readFileSync, statSync } from 'node:fs';

export function isRunning(pid: number, command: RegExp): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const state = stat.charAt(close + 2);
    return state !== 'Z' && state !== 'X' && command.test(comm);
  } catch {
    return false;
  }
}

/** The pid in a pid file, or undefined if there is none. */
export function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether process `pid` has `file` open: the same file (device and inode), not just the same name. */
export function processHoldsFile(pid: number, file: string): boolean {
  try {
    const want = statSync(file);
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        const held = statSync(`/proc/${pid}/fd/${fd}`);
        return held.dev === want.dev && held.ino === want.ino;
      } catch {
        return false; // closed meanwhile
      }
    });
  } catch {
    return false; // no such file or process, or not ours to look at
  }
}
