// Whether a process we started is still running. A dead process can linger as
// a zombie until its parent reaps it, and a pid can be reused by an unrelated
// program, so both the state and the command name are read from /proc.
import { readFileSync } from 'node:fs';

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
