// The versioned schema. Each migration is a list of DDL statements applied in
// order; Dbos_meta.schema_version records the last one applied. An older schema
// is migrated forward, a newer one is refused (this build cannot know it).
//
// Names are VARBINARY: Linux names are bytes, compared byte for byte, with no
// collation, no trailing-space padding and no case folding. InnoDB keys stop at
// 3072 bytes while paths go to 4096, so uniqueness is enforced on a generated
// SHA-256 key (f_key, e_key) and ordered lookups use a 3000-byte prefix index.
import type { Db, Queryable } from './db.js';

export class SchemaError extends Error {}

/** SQL for the 16-byte key of a name expression; the same everywhere. */
const keyOf = (expr: string) => `UNHEX(LEFT(SHA2(${expr}, 256), 32))`;

/**
 * The paper's two file tables share one shape: a localized file's rows carry
 * the partition (p_key) of its owner, a parallel file's blocks are spread over
 * all partitions by block_no, so Parallel_file has no p_key.
 */
function fileTable(name: string, withPartition: boolean): string {
  return `CREATE TABLE IF NOT EXISTS ${name} (
         f_name VARBINARY(4096) NOT NULL,
         f_owner VARCHAR(64) NULL,
         block_no BIGINT NOT NULL,
         bytes MEDIUMBLOB NULL,
         f_size BIGINT NULL,${withPartition ? '\n         p_key INT NOT NULL,' : ''}
         f_key BINARY(16) AS (${keyOf('f_name')}) PERSISTENT,
         UNIQUE KEY block (f_key, block_no),
         KEY by_name (f_name(3000), block_no),
         KEY by_owner (f_owner, f_size)
       ) ENGINE=InnoDB`;
}

interface Migration {
  version: number;
  description: string;
  statements: string[];
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'the DBOS filesystem tables',
    statements: [
      `CREATE TABLE IF NOT EXISTS Map (
         p_key INT NOT NULL PRIMARY KEY,
         partition_id INT NOT NULL UNIQUE,
         host_name VARCHAR(255) NOT NULL,
         host_id INT NOT NULL
       ) ENGINE=InnoDB`,
      `CREATE TABLE IF NOT EXISTS User (
         user_name VARCHAR(64) NOT NULL PRIMARY KEY,
         uid INT UNSIGNED NOT NULL UNIQUE,
         home_partition INT NOT NULL,
         current_path VARBINARY(4096) NOT NULL DEFAULT '/'
       ) ENGINE=InnoDB`,
      `CREATE TABLE IF NOT EXISTS Directory (
         d_name VARBINARY(4096) NOT NULL,
         content VARBINARY(255) NOT NULL,
         content_type ENUM('file','directory','symlink','fifo','socket','char','block') NOT NULL,
         user_name VARCHAR(64) NOT NULL,
         protection_info SMALLINT UNSIGNED NOT NULL,
         p_key INT NOT NULL,
         gid INT UNSIGNED NOT NULL,
         nlink INT UNSIGNED NOT NULL,
         atime DECIMAL(20,9) NOT NULL,
         mtime DECIMAL(20,9) NOT NULL,
         ctime DECIMAL(20,9) NOT NULL,
         rdev INT UNSIGNED NOT NULL DEFAULT 0,
         target VARBINARY(4096) NULL,
         placement ENUM('localized','parallel') NOT NULL,
         block_size INT UNSIGNED NOT NULL,
         path VARBINARY(4352) AS (IF(d_name = '', content, IF(d_name = '/', CONCAT('/', content), CONCAT(d_name, '/', content)))) VIRTUAL,
         e_key BINARY(16) AS (${keyOf("CONCAT(d_name, 0x00, content)")}) PERSISTENT,
         UNIQUE KEY entry (e_key),
         KEY listing (d_name(2800), content),
         KEY by_owner (user_name)
       ) ENGINE=InnoDB`,
      fileTable('Localized_file', true),
      fileTable('Parallel_file', false),
      `CREATE TABLE IF NOT EXISTS Xattr (
         f_name VARBINARY(4096) NOT NULL,
         x_name VARBINARY(255) NOT NULL,
         x_value BLOB NOT NULL,
         f_key BINARY(16) AS (${keyOf('f_name')}) PERSISTENT,
         UNIQUE KEY attr (f_key, x_name),
         KEY by_name (f_name(3000))
       ) ENGINE=InnoDB`,
    ],
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
  await db.run(`CREATE TABLE IF NOT EXISTS Dbos_meta (
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
        for (const sql of m.statements) await c.run(sql);
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
