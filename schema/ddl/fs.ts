// DDL of the filesystem's tables, by schema version. Names are VARBINARY:
// Linux names are bytes, compared byte for byte, with no collation, no
// trailing-space padding and no case folding. InnoDB keys stop at 3072 bytes
// while paths go to 4096, so uniqueness is enforced on a SHA-256 key of the
// name (f_key, e_key) and ordered lookups use a 3000-byte prefix index.

/** SQL for the 16-byte key of a name expression; the same everywhere. */
export const keyOf = (expr: string) => `UNHEX(LEFT(SHA2(${expr}, 256), 32))`;

/**
 * SQL for the rows of the file whose name is the expression `name`, in a
 * table keyed by f_key (the file tables, Xattr; `alias` qualifies their
 * columns): the key finds them, the full name guards against two names with
 * one key.
 */
export const ofFileNamed = (name: string, alias?: string) => {
  const c = alias ? `${alias}.` : '';
  return `${c}f_key = ${keyOf(name)} AND ${c}f_name = ${name}`;
};

/**
 * SQL for the Directory row of the name `name` in the directory `parent`
 * (expressions; `alias` qualifies the columns): the key finds it, the full
 * name guards against two names with one key. A locking read through it
 * locks, in `entry`, the row and the gap before it (MariaDB 10.11 takes a
 * next-key lock even on this unique key); that index is ordered by a hash, so
 * the names that land in the gap are random ones, not the row's siblings, as
 * they would be in the listing index.
 */
export const ofEntryNamed = (parent: string, name: string, alias?: string) => {
  const c = alias ? `${alias}.` : '';
  return `${c}e_key = ${keyOf(`CONCAT(${parent}, 0x00, ${name})`)} AND ${c}d_name = ${parent} AND ${c}content = ${name}`;
};

/**
 * The row of a file that carries its f_owner and f_size and no bytes (its
 * block_no); the file's bytes are in the rows numbered from 0.
 */
export const SIZE_ROW = -1;

/**
 * The paper's two file tables share one shape: a localized file's rows carry
 * the partition (p_key) of its owner, a parallel file's blocks are spread over
 * all partitions by block_no, so Parallel_file has no p_key. Version 8
 * (CLUSTERED_FILE_KEYS) makes (f_key, block_no) their primary key.
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

export const FILESYSTEM_TABLES: string[] = [
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
];

/**
 * Schema version 4: the paper's analytics query (total size per owner of the
 * files of at least some size) reads a range of this index, only the files
 * that qualify, instead of every row of the file table.
 */
export const FILE_SIZE_INDEXES: string[] = ['Localized_file', 'Parallel_file'].map(
  (t) => `ALTER TABLE ${t} ADD INDEX IF NOT EXISTS by_size (f_size, f_owner)`);

/**
 * Schema version 5. unlink(2) of a name that is not a directory, with its
 * blocks and xattrs, in one transaction and one round trip: through FUSE the
 * kernel has checked permissions already, and an unlink that first read the
 * row and then ran a transaction of three deletes cost six statements.
 * Answers the type of what it removed, 'directory' for a directory it left
 * alone (EISDIR), or NULL for no such name.
 */
export const FILE_PROCEDURES: string[] = [
  `CREATE OR REPLACE PROCEDURE fs_unlink(IN p_parent VARBINARY(4096), IN p_name VARBINARY(255), IN p_path VARBINARY(4352))
MODIFIES SQL DATA
BEGIN
  DECLARE kind VARCHAR(16) DEFAULT NULL;
  DECLARE place VARCHAR(16) DEFAULT NULL;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  START TRANSACTION;
  SELECT content_type, placement INTO kind, place FROM Directory
   WHERE ${ofEntryNamed('p_parent', 'p_name')} FOR UPDATE;
  IF kind IS NOT NULL AND kind <> 'directory' THEN
    DELETE FROM Directory WHERE ${ofEntryNamed('p_parent', 'p_name')};
    IF kind = 'file' AND place = 'parallel' THEN
      DELETE FROM Parallel_file WHERE ${ofFileNamed('p_path')};
    ELSEIF kind = 'file' THEN
      DELETE FROM Localized_file WHERE ${ofFileNamed('p_path')};
    END IF;
    DELETE FROM Xattr WHERE ${ofFileNamed('p_path')};
  END IF;
  COMMIT;
  SELECT kind AS content_type;
END`,
];

/**
 * Schema version 7: each entry's inode number, st_ino. It stays with the row
 * through renames and remounts, and no two rows share one. Before, libfuse
 * made numbers up, and gave a new one whenever the kernel had forgotten an
 * inode under memory pressure: tar -x then failed with "Directory renamed
 * before its status could be extracted". The migration numbers existing rows.
 * AUTO_INCREMENT, not a sequence as the column's default: MariaDB 10.11
 * crashed (in Item_func_nextval) running the creates' prepared INSERT …
 * SELECT from 40 threads. The unique key on a NOT NULL column also becomes
 * the table's clustered index, in creation order.
 */
export const INODE_NUMBERS: string[] = [
  `ALTER TABLE Directory
     ADD COLUMN IF NOT EXISTS ino BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
     ADD UNIQUE KEY IF NOT EXISTS by_ino (ino)`,
];

/**
 * Schema version 8: the file tables are clustered by (f_key, block_no). A
 * file's rows are then adjacent in the table itself, and reading a range of
 * blocks, upserting one, or finding the size row is one descent of one
 * B-tree. Before, InnoDB clustered the rows by a hidden row id, so each went
 * through the unique key or by_name and then to the row (measured on 516,000
 * rows, 8 connections: about 30% less server CPU for a one-block commit and
 * for a one-block read). MariaDB allows no primary key on a generated column,
 * so f_key becomes a plain column, and triggers set it from f_name on every
 * insert and update: no writer of f_name can leave it stale. Its default is
 * never stored (the trigger overwrites it), but MariaDB wants one before it
 * runs the triggers of an INSERT … SELECT. The ALTER keeps the stored keys
 * and can run again.
 */
export const CLUSTERED_FILE_KEYS: string[] = ['Localized_file', 'Parallel_file'].flatMap((t) => [
  `ALTER TABLE ${t} MODIFY f_key BINARY(16) NOT NULL DEFAULT '', DROP KEY IF EXISTS block, ADD PRIMARY KEY IF NOT EXISTS (f_key, block_no)`,
  `CREATE OR REPLACE TRIGGER ${t}_key_insert BEFORE INSERT ON ${t} FOR EACH ROW SET NEW.f_key = ${keyOf('NEW.f_name')}`,
  `CREATE OR REPLACE TRIGGER ${t}_key_update BEFORE UPDATE ON ${t} FOR EACH ROW SET NEW.f_key = ${keyOf('NEW.f_name')}`,
]);

/**
 * SQL for the size class of a size: the size with all but its four highest
 * bits cleared, so a power of two splits into eight classes (and a size under
 * 8 is a class of its own). 20 KiB, the paper's threshold, starts a class.
 * fs/sql/usage.ts computes the same in TypeScript.
 */
export const sizeClassOf = (size: string) =>
  `IF(${size} < 8, ${size}, (${size} >> (LENGTH(BIN(${size})) - 4)) << (LENGTH(BIN(${size})) - 4))`;

/** The triggers that keep File_size_class in step with a file table's size rows. */
function sizeClassTriggers(table: string): string[] {
  const counted = (row: string) => `${row}.block_no = ${SIZE_ROW} AND ${row}.f_size > 0`;
  const add = (row: string) => `INSERT INTO File_size_class (size_class, f_owner, files, total_bytes)
       VALUES (${sizeClassOf(`${row}.f_size`)}, COALESCE(${row}.f_owner, ''), 1, ${row}.f_size)
       ON DUPLICATE KEY UPDATE files = files + 1, total_bytes = total_bytes + ${row}.f_size`;
  const remove = (row: string) => `UPDATE File_size_class SET files = files - 1, total_bytes = total_bytes - ${row}.f_size
       WHERE size_class = ${sizeClassOf(`${row}.f_size`)} AND f_owner = COALESCE(${row}.f_owner, '')`;
  return [
    `CREATE OR REPLACE TRIGGER ${table}_size_insert AFTER INSERT ON ${table} FOR EACH ROW
     IF ${counted('NEW')} THEN ${add('NEW')}; END IF`,
    // A rename rewrites f_name on every row of the file, and a write of blocks
    // upserts them: neither changes what the summary holds.
    `CREATE OR REPLACE TRIGGER ${table}_size_update AFTER UPDATE ON ${table} FOR EACH ROW
     IF (${counted('OLD')} OR ${counted('NEW')})
        AND NOT (OLD.f_size <=> NEW.f_size AND OLD.f_owner <=> NEW.f_owner AND OLD.block_no <=> NEW.block_no) THEN
       IF ${counted('OLD')} THEN ${remove('OLD')}; END IF;
       IF ${counted('NEW')} THEN ${add('NEW')}; END IF;
     END IF`,
    `CREATE OR REPLACE TRIGGER ${table}_size_delete AFTER DELETE ON ${table} FOR EACH ROW
     IF ${counted('OLD')} THEN ${remove('OLD')}; END IF`,
  ];
}

/**
 * Schema version 6: the number and total bytes of the files of each owner and
 * size class, kept by triggers in the transaction that changes a size row.
 * The paper's analytics query then reads a few hundred summary rows, plus the
 * files of one size class when the threshold falls inside it, instead of one
 * index entry per qualifying file. Empty files are not counted (they have no
 * bytes, and a file has no size row until its first write). The last two
 * statements rebuild the summary from the file tables, so running the
 * migration again (or after a restore) leaves it right.
 */
export const FILE_SIZE_CLASSES: string[] = [
  `CREATE TABLE IF NOT EXISTS File_size_class (
     size_class BIGINT NOT NULL,
     f_owner VARCHAR(64) NOT NULL,
     files BIGINT NOT NULL,
     total_bytes BIGINT NOT NULL,
     PRIMARY KEY (size_class, f_owner)
   ) ENGINE=InnoDB`,
  ...sizeClassTriggers('Localized_file'),
  ...sizeClassTriggers('Parallel_file'),
  'DELETE FROM File_size_class',
  `INSERT INTO File_size_class (size_class, f_owner, files, total_bytes)
   SELECT ${sizeClassOf('f_size')} AS c, COALESCE(f_owner, '') AS o, COUNT(*), SUM(f_size) FROM (
     SELECT f_size, f_owner FROM Localized_file WHERE f_size > 0 AND block_no = ${SIZE_ROW}
     UNION ALL
     SELECT f_size, f_owner FROM Parallel_file WHERE f_size > 0 AND block_no = ${SIZE_ROW}
   ) AS sized GROUP BY c, o`,
];
