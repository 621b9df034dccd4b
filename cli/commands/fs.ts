// dbos fs placement|blocksize: per-directory layout settings, which new files
// below the directory inherit. The same settings are the xattrs
// user.dbos.placement and user.dbos.block_size on the mount.
// dbos fs usage: bytes per owner in the files of at least some size.
import type { Command } from 'commander';
import { DbosFs } from '../../fs/dbosfs.js';
import { pathInsideMount } from '../../fs/fuse/mountpoint.js';
import { usageByOwner } from '../../fs/sql/usage.js';
import { CliError } from '../errors.js';
import { formatTable } from '../table.js';
import { connect, resolveTarget } from '../target.js';
import { parseSize } from '../units.js';

/** A path on a dbos mount becomes the path inside the filesystem; any other path is taken as one already. */
export function insidePath(path: string): string {
  const inside = pathInsideMount(path);
  if (inside !== null) return inside;
  if (!path.startsWith('/')) throw new CliError(`"${path}" is neither on a dbos mount nor an absolute path inside the filesystem.`);
  return path;
}

async function withShim<T>(dbUrl: string | undefined, work: (fs: DbosFs) => Promise<T>): Promise<T> {
  const db = await connect(resolveTarget(dbUrl));
  try {
    const fs = await DbosFs.open(db, { checkPermissions: false });
    try {
      return await work(fs);
    } finally {
      await fs.close();
    }
  } finally {
    await db.close();
  }
}

export function registerFsCommands(program: Command): void {
  const fsCmd = program.command('fs').description('filesystem settings kept in the Directory table, and usage per owner');

  fsCmd.command('placement')
    .argument('<dir>', 'a directory on a dbos mount, or a path inside the filesystem such as /data')
    .argument('[placement]', 'localized (blocks on the owner\'s partition) or parallel (blocks spread over all partitions)')
    .description('show or set where new files below DIR keep their blocks')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (dir: string, placement: string | undefined, o: { db?: string }) => {
      const p = insidePath(dir);
      if (placement !== undefined && placement !== 'localized' && placement !== 'parallel') throw new CliError('placement must be "localized" or "parallel".');
      await withShim(o.db, async (fs) => {
        if (placement) await fs.setPlacement(p, placement);
        console.log(`${p}: ${(await fs.getxattr(p, 'user.dbos.placement')).toString()}`);
      });
    });

  fsCmd.command('blocksize')
    .argument('<dir>', 'a directory on a dbos mount, or a path inside the filesystem')
    .argument('[bytes]', 'block size for new files below DIR (512 bytes to 8 MiB)')
    .description('show or set the block size new files below DIR are written with')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (dir: string, bytes: string | undefined, o: { db?: string }) => {
      const p = insidePath(dir);
      await withShim(o.db, async (fs) => {
        if (bytes !== undefined) {
          const n = Number(bytes);
          if (!Number.isInteger(n)) throw new CliError(`block size must be a whole number of bytes (got "${bytes}").`);
          await fs.setBlockSize(p, n);
        }
        console.log(`${p}: ${(await fs.getxattr(p, 'user.dbos.block_size')).toString()} bytes`);
      });
    });

  fsCmd.command('usage')
    .description('files and bytes per owner, of the files of at least --min-size (from File_size_class, without a scan)')
    .option('--min-size <size>', 'the smallest file counted, e.g. 20K (at least 1 byte: empty files are not counted)', '1')
    .option('--json', 'print the rows as JSON')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (o: { minSize: string; json?: boolean; db?: string }) => {
      const minSize = parseSize(o.minSize, '--min-size');
      if (minSize < 1) throw new CliError('--min-size must be at least 1 byte: empty files are not counted.');
      const db = await connect(resolveTarget(o.db));
      try {
        const rows = await usageByOwner(db, minSize);
        console.log(o.json ? JSON.stringify(rows, null, 2) : formatTable(['owner', 'files', 'bytes'], rows));
      } finally {
        await db.close();
      }
    });
}
