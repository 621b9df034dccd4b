// dbos up / down / status: the private database and the schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Db } from '../../schema/db.js';
import { ensureHome, type DbosHome, dbosHome } from '../../schema/home.js';
import { migrate, readMeta, schemaVersion, SCHEMA_VERSION, DEFAULT_BLOCK_SIZE, DEFAULT_PARTITIONS } from '../../schema/migrations.js';
import { type Durability, type ServerOptions, privateTarget, serverStatus, startServer, stopServer } from '../../schema/server.js';
import { alive, allRecords, liveMountsOf } from '../../fs/fuse/registry.js';
import { mountedAt } from '../../fs/fuse/mountpoint.js';
import { CliError } from '../errors.js';
import { connect, resolveTarget } from '../target.js';

interface ServerSettings {
  memory?: string;
  durability?: Durability;
}

function settingsFile(home: DbosHome): string {
  return join(home.root, 'server.json');
}

function loadSettings(home: DbosHome): ServerSettings {
  try {
    return JSON.parse(readFileSync(settingsFile(home), 'utf8')) as ServerSettings;
  } catch {
    return {};
  }
}

const serverOptions = (s: ServerSettings): ServerOptions => ({ bufferPool: s.memory, durability: s.durability });

/**
 * Stops the private server and starts it again, as `dbos up` last started it,
 * with its buffer pool empty: `dbos bench fs` before a cold read. Its clients
 * (mounts included) reconnect by themselves. The pool keeps the size the
 * server has: a size given only through DBOS_DB_MEMORY is in no settings file.
 */
export async function restartWithEmptyBufferPool(home: DbosHome): Promise<void> {
  const settings = loadSettings(home);
  const bufferPool = (await runningBufferPool(home)) ?? settings.memory;
  await stopServer(home);
  await startServer(home, { ...serverOptions(settings), bufferPool, emptyBufferPool: true });
}

/** The running private server's buffer pool in bytes, or undefined if it cannot say. */
async function runningBufferPool(home: DbosHome): Promise<string | undefined> {
  const db = new Db(privateTarget(home));
  try {
    const [row] = await db.rows<{ size: string }>('SELECT @@GLOBAL.innodb_buffer_pool_size AS size');
    return row ? String(row.size) : undefined;
  } catch {
    return undefined;
  } finally {
    await db.close();
  }
}

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new CliError(`${name} must be a positive whole number (got "${v}").`);
    return n;
  };
}

export function registerServerCommands(program: Command): void {
  program.command('up')
    .description('start the private MariaDB (unless --db) and create or migrate the schema; safe to run again')
    .option('--db <url>', 'use this MySQL-protocol database instead of the private server')
    .option('--partitions <n>', `logical partitions listed in Map, fixed when the schema is created (default ${DEFAULT_PARTITIONS})`, positiveInt('--partitions'))
    .option('--block-size <bytes>', `default block size of new files (default ${DEFAULT_BLOCK_SIZE})`, positiveInt('--block-size'))
    .option('--memory <size>', 'InnoDB buffer pool of the private server, e.g. 2G (default: a quarter of the memory, at least 1G)')
    .option('--durability <mode>', '"fsync": a commit is on disk at the next fsync (default); "commit": at every commit')
    .action(async (o: { db?: string; partitions?: number; blockSize?: number; memory?: string; durability?: string }) => {
      if (o.durability && o.durability !== 'fsync' && o.durability !== 'commit') throw new CliError('--durability must be "fsync" or "commit".');
      const url = o.db ?? process.env.DBOS_DB_URL;
      let db: Db;
      let label: string;
      if (url) {
        const r = resolveTarget(url);
        db = await connect(r);
        label = r.label;
      } else {
        const home = dbosHome();
        ensureHome(home);
        const settings = { ...loadSettings(home), ...(o.memory ? { memory: o.memory } : {}), ...(o.durability ? { durability: o.durability as Durability } : {}) };
        writeFileSync(settingsFile(home), JSON.stringify(settings, null, 2) + '\n', { mode: 0o600 });
        const wasRunning = serverStatus(home).running;
        const status = await startServer(home, serverOptions(settings));
        db = new Db(privateTarget(home));
        if (wasRunning && o.durability) {
          await db.text(`SET GLOBAL innodb_flush_log_at_trx_commit = ${o.durability === 'commit' ? 1 : 2}`);
        }
        label = `private server (pid ${status.pid}, socket ${home.socket})`;
        if (wasRunning && o.memory) console.log('note: --memory takes effect after "dbos down" and "dbos up".');
      }
      try {
        // A daemon keeps the statements of the schema it was built for: an
        // older one would fail, or hold the tables the migration alters.
        const current = await schemaVersion(db);
        const older = current > 0 && current < SCHEMA_VERSION ? liveMountsOf(dbosHome(), label) : [];
        if (older.length > 0) {
          throw new CliError(`${older.map((r) => r.mountpoint).join(', ')} still use${older.length === 1 ? 's' : ''} schema version ${current} of this database; ` +
            `run "dbos umount" first, then dbos up migrates it to version ${SCHEMA_VERSION}.`);
        }
        const { from, to } = await migrate(db, { partitions: o.partitions, blockSize: o.blockSize });
        const meta = await readMeta(db);
        const fixed = (key: string, asked: number | undefined) => {
          if (asked !== undefined && String(asked) !== meta.get(key)) console.log(`note: ${key} was fixed at ${meta.get(key)} when the schema was created; ${asked} ignored.`);
        };
        if (from > 0) {
          fixed('partitions', o.partitions);
          fixed('block_size', o.blockSize);
        }
        console.log(`database: ${label}`);
        console.log(`schema:   ${from === 0 ? `created (version ${to})` : from < to ? `migrated from version ${from} to ${to}` : `version ${to}, up to date`}; ` +
          `${meta.get('partitions')} partitions, default block size ${meta.get('block_size')} bytes`);
      } finally {
        await db.close();
      }
    });

  program.command('down')
    .description('stop the private MariaDB cleanly')
    .option('--force', 'stop it even while dbos mounts use it')
    .action(async (o: { force?: boolean }) => {
      const home = dbosHome();
      const users = liveMountsOf(home, 'private server');
      if (users.length > 0 && !o.force) {
        throw new CliError(`${users.map((r) => r.mountpoint).join(', ')} still use${users.length === 1 ? 's' : ''} the private database; run "dbos umount" first (or dbos down --force).`);
      }
      const stopped = await stopServer(home);
      console.log(stopped ? `stopped the private database (${home.dataDir}).` : 'the private database was not running.');
    });

  program.command('status')
    .description('say what runs where: the database, its schema and the mounts')
    .option('--json', 'print JSON')
    .option('--db <url>', 'report on this database instead of the private server')
    .action(async (o: { json?: boolean; db?: string }) => {
      const home = dbosHome();
      const server = serverStatus(home);
      const report: Record<string, unknown> = {
        home: home.root,
        privateServer: { running: server.running, pid: server.pid ?? null, socket: server.socket, dataDir: server.dataDir, log: home.serverLog },
      };
      const url = o.db ?? process.env.DBOS_DB_URL;
      if (url || server.running) {
        const r = resolveTarget(url);
        report.database = r.label;
        try {
          const db = await connect(r);
          try {
            const version = await db.rows<{ v: string }>('SELECT VERSION() AS v');
            const v = await schemaVersion(db);
            const meta = v > 0 ? await readMeta(db) : new Map<string, string>();
            report.server = version[0]?.v;
            report.schema = { version: v, expected: SCHEMA_VERSION, partitions: Number(meta.get('partitions') ?? 0), blockSize: Number(meta.get('block_size') ?? 0) };
          } finally {
            await db.close();
          }
        } catch (e) {
          report.error = (e as Error).message;
        }
      }
      report.mounts = allRecords(home).map((m) => ({
        mountpoint: m.mountpoint, pid: m.pid, running: alive(m.pid) && mountedAt(m.mountpoint)?.fstype === 'fuse.dbos',
        database: m.database, log: m.log, since: m.startedAt,
      }));
      if (o.json) {
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      console.log(`home:     ${home.root}`);
      console.log(`private:  ${server.running ? `running, pid ${server.pid}, socket ${server.socket}` : 'not running'}`);
      if (report.database) console.log(`database: ${report.database}${report.server ? ` (MariaDB ${report.server})` : ''}`);
      if (report.error) console.log(`error:    ${report.error}`);
      const s = report.schema as { version: number; expected: number; partitions: number; blockSize: number } | undefined;
      if (s) console.log(`schema:   ${s.version === 0 ? 'none (run dbos up)' : `version ${s.version}${s.version !== s.expected ? ` (this dbos expects ${s.expected})` : ''}, ${s.partitions} partitions, block size ${s.blockSize}`}`);
      const mounts = report.mounts as { mountpoint: string; pid: number; running: boolean; log: string }[];
      if (mounts.length === 0) console.log('mounts:   none');
      for (const m of mounts) console.log(`mount:    ${m.mountpoint}  pid ${m.pid}  ${m.running ? 'running' : 'NOT RUNNING (stale record)'}  log ${m.log}`);
    });
}
