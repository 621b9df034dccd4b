// The CLI's own entry point, for the commands that start dbos again in
// another process (the mount daemon, the benchmarks' daemons).
import { fileURLToPath } from 'node:url';

export const CLI_ENTRY = fileURLToPath(new URL('./dbos.js', import.meta.url));
