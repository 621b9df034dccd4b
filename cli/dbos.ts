#!/usr/bin/env node
// The dbos command. Each subcommand lives in cli/commands/; this file wires
// them up and turns any failure into one sentence and a non-zero exit.
import { Command } from 'commander';
import { redactUrl } from '../schema/url.js';
import { registerBenchCommands } from './commands/bench.js';
import { registerFsCommands } from './commands/fs.js';
import { registerIpcCommands } from './commands/ipc.js';
import { registerMountCommands } from './commands/mount.js';
import { registerSchedCommands } from './commands/sched.js';
import { registerServerCommands } from './commands/server.js';
import { registerSqlCommand } from './commands/sql.js';
import { describeError, isExpected } from './errors.js';

// A --db URL typed on the command line would show its password in ps; replace
// our process title (which Linux shows as the command line) at once.
if (process.argv.some((a) => /:\/\/[^/@]*:[^@/]*@/.test(a))) {
  process.title = ['dbos', ...process.argv.slice(2).map(redactUrl)].join(' ');
}

const program = new Command();
program.name('dbos')
  .description('DBOS for Linux: a filesystem whose whole state lives in SQL tables')
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(str) })
  .exitOverride();

registerServerCommands(program);
registerMountCommands(program);
registerSqlCommand(program);
registerFsCommands(program);
registerSchedCommands(program);
registerIpcCommands(program);
registerBenchCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const code = (e as { code?: string; exitCode?: number }).code;
  if (typeof code === 'string' && code.startsWith('commander.')) {
    process.exit((e as { exitCode?: number }).exitCode ?? 1);
  }
  console.error(`dbos: ${describeError(e)}`);
  if (process.env.DBOS_DEBUG || !isExpected(e)) console.error(e);
  process.exit(1);
}
