// The versioned schema. Each migration is a list of DDL statements applied in
// order (the statements themselves live in schema/ddl/, one file per family
// of tables); Dbos_meta.schema_version records the last one applied. An older
// schema is migrated forward, a newer one is refused (this build cannot know it).
import type { Db, Queryable } from './db.js';
import { CLUSTERED_FILE_KEYS, FILE_PROCEDURES, FILE_SIZE_CLASSES, FILE_SIZE_INDEXES, FILESYSTEM_TABLES, INODE_NUMBERS } from './ddl/fs.js';
import { IPC_OBJECTS } from './ddl/ipc.js';
import { SCHEDULER_OBJECTS } from './ddl/sched.js';

export class SchemaError extends Error {}

interface Migration {
  version: number;
  description: string;
  statements: string[];
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'the DBOS filesystem tables',
    statements: FILESYSTEM_TABLES,
  },
  {
    version: 2,
    description: 'the scheduler: Worker, Task, Task_dep, Sched_policy and the policy procedures',
    statements: SCHEDULER_OBJECTS,
  },
  {
    version: 3,
    description: 'messaging: Mailbox, Message, Message_history and the receive procedure',
    statements: IPC_OBJECTS,
  },
  {
    version: 4,
    description: 'an index of file sizes, for queries over the files of at least some size',
    statements: FILE_SIZE_INDEXES,
  },
  {
    version: 5,
    description: 'fs_unlink: unlink in one round trip',
    statements: FILE_PROCEDURES,
  },
  {
    version: 6,
    description: 'File_size_class: files and bytes per owner and size class, kept by triggers',
    statements: FILE_SIZE_CLASSES,
  },
  {
    version: 7,
    description: 'inode numbers: Directory.ino, kept through renames and remounts',
    statements: INODE_NUMBERS,
  },
  {
    version: 8,
    description: 'the file tables clustered by (f_key, block_no)',
    statements: CLUSTERED_FILE_KEYS,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export interface InitOptions {
  /** Number of logical partitions listed in Map (fixed when the schema is created). */
  partitions?: number;
  /** Default block size in bytes for files whose directory does not set one. */
  blockSize?: number;
}

export const DEFAULT_PARTITIONS = 8;
export const DEFAULT_BLOCK_SIZE = 64 * 1024;
export const MAX_BLOCK_SIZE = 8 * 1024 * 1024;

async function ensureMetaTable(db: Queryable): Promise<void> {
  await db.ddl(`CREATE TABLE IF NOT EXISTS Dbos_meta (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    value VARCHAR(255) NOT NULL
  ) ENGINE=InnoDB`);
}

export async function readMeta(db: Queryable): Promise<Map<string, string>> {
  const rows = await db.rows<{ name: string; value: string }>('SELECT name, value FROM Dbos_meta');
  return new Map(rows.map((r) => [r.name, r.value]));
}

/** The schema version recorded in the database, or 0 if it has none. */
export async function schemaVersion(db: Queryable): Promise<number> {
  const rows = await db.rows<{ n: number }>(
    "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'Dbos_meta'");
  if (!rows[0]?.n) return 0;
  const meta = await readMeta(db);
  return Number(meta.get('schema_version') ?? 0);
}

export function validateInitOptions(opts: InitOptions): Required<InitOptions> {
  const partitions = opts.partitions ?? DEFAULT_PARTITIONS;
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 4096) {
    throw new SchemaError(`partitions must be a whole number from 1 to 4096 (got ${opts.partitions}).`);
  }
  if (!Number.isInteger(blockSize) || blockSize < 512 || blockSize > MAX_BLOCK_SIZE) {
    throw new SchemaError(`block size must be from 512 bytes to ${MAX_BLOCK_SIZE} bytes (got ${opts.blockSize}).`);
  }
  return { partitions, blockSize };
}

/**
 * Creates the schema or migrates it to SCHEMA_VERSION. Safe to run
 * concurrently (a named lock serializes it) and to run again.
 */
export async function migrate(db: Db, opts: InitOptions = {}): Promise<{ from: number; to: number }> {
  const { partitions, blockSize } = validateInitOptions(opts);
  // GET_LOCK belongs to a connection, so the whole migration runs on one.
  return db.session(async (c) => {
    const lock = await c.rows<{ ok: number }>("SELECT GET_LOCK(CONCAT(DATABASE(), '.dbos_migrate'), 60) AS ok");
    if (lock[0]?.ok !== 1) throw new SchemaError('another dbos process has been migrating the schema for a minute; try again.');
    try {
      await ensureMetaTable(c);
      const from = await schemaVersion(c);
      if (from > SCHEMA_VERSION) {
        throw new SchemaError(`the database schema is version ${from}, newer than this dbos (version ${SCHEMA_VERSION}); upgrade dbos.`);
      }
      for (const m of MIGRATIONS) {
        if (m.version <= from) continue;
        for (const sql of m.statements) await c.ddl(sql);
        if (m.version === 1) await seedPartitions(c, partitions, blockSize);
        await c.run('INSERT INTO Dbos_meta (name, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value)',
          ['schema_version', String(m.version)]);
      }
      return { from, to: SCHEMA_VERSION };
    } finally {
      await c.rows("SELECT RELEASE_LOCK(CONCAT(DATABASE(), '.dbos_migrate')) AS ok").catch(() => undefined);
    }
  }, { timeoutMs: 600_000 });
}

/** Records the settings fixed at creation and lists the partitions in Map. */
async function seedPartitions(c: Queryable, partitions: number, blockSize: number): Promise<void> {
  await c.run('INSERT IGNORE INTO Dbos_meta (name, value) VALUES (?, ?), (?, ?)',
    ['partitions', String(partitions), 'block_size', String(blockSize)]);
  const n = Number((await readMeta(c)).get('partitions'));
  for (let p = 0; p < n; p++) {
    await c.run('INSERT IGNORE INTO Map (p_key, partition_id, host_name, host_id) VALUES (?, ?, @@hostname, 0)', [p, p]);
  }
}

/** Refuses to run against a database whose schema is missing, older or newer. */
export async function requireCurrentSchema(db: Queryable): Promise<void> {
  const v = await schemaVersion(db);
  if (v === 0) throw new SchemaError('the database has no dbos schema yet; run "dbos up" first.');
  if (v < SCHEMA_VERSION) throw new SchemaError(`the database schema is version ${v}, older than this dbos (version ${SCHEMA_VERSION}); run "dbos up" to migrate it.`);
  if (v > SCHEMA_VERSION) throw new SchemaError(`the database schema is version ${v}, newer than this dbos (version ${SCHEMA_VERSION}); upgrade dbos.`);
}
