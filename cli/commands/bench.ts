// dbos bench: benchmarks that write JSON, Markdown and SVG charts into a
// results folder. Each runs against a scratch database on the same server.
import type { Command } from 'commander';
import { registerFsBench } from '../bench/fs.js';
import { registerIpcBench } from '../bench/ipc.js';
import { registerSchedBench } from '../bench/sched.js';

export function registerBenchCommands(program: Command): void {
  const bench = program.command('bench').description('benchmarks: JSON, Markdown and SVG charts in a results folder');
  registerFsBench(bench);
  registerSchedBench(bench);
  registerIpcBench(bench);
}
