#!/usr/bin/env node
// Builds dbos's FUSE binding (fs/fuse/binding: C over libfuse 2's low-level
// API) against Debian's libfuse2 (pkg-config "fuse") and the headers of the
// Node.js that runs this script. Rebuilds only when the source is newer than
// the built module.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fs', 'fuse', 'binding');
const built = join(dir, 'build', 'Release', 'dbos_fuse.node');
const newest = Math.max(...['dbos_fuse.c', 'binding.gyp'].map((f) => statSync(join(dir, f)).mtimeMs));
if (!existsSync(built) || statSync(built).mtimeMs < newest) {
  const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
  // Debian's nodejs ships its headers under /usr/include/node; node-gyp would otherwise download them.
  const nodedir = process.env.npm_config_nodedir
    || (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
  const args = [nodeGyp, 'rebuild', '--loglevel=warn', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  execFileSync(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
}
console.log(`build-fuse-binding: ${built} (system libfuse2)`);
