// Starts one private MariaDB for the whole test run, under its own DBOS_HOME
// (never the user's ~/.dbos), and stops it at the end.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { dbosHome } from '../../schema/home.js';
import { startServer, stopServer } from '../../schema/server.js';

export const TEST_HOME = process.env.DBOS_TEST_HOME || join(process.cwd(), '.dbos-test');

export default async function setup(): Promise<() => Promise<void>> {
  process.env.DBOS_TEST_HOME = TEST_HOME;
  // Integration tests run the CLI as users do, from dist/: build it first.
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  const home = dbosHome({ DBOS_HOME: TEST_HOME });
  await startServer(home, { bufferPool: '512M' });
  return async () => {
    if (!process.env.DBOS_TEST_KEEP_SERVER) await stopServer(home);
  };
}
