// Database access: one mysql2 pool, server-side prepared statements, a deadline
// on every operation, and transactions retried on deadlock. Connection-level
// failures become DbUnavailableError, which the filesystem reports as EIO; the
// pool reconnects on its own once the server is back.
import mysql, { type FieldPacket, type Pool, type PoolConnection, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import type { DbTarget } from './url.js';

export type Param = string | number | bigint | Buffer | null;
export type Row = Record<string, unknown>;

/** A statement and its parameters, for Db.atomically() and Db.readThenChange(). */
export interface Statement {
  sql: string;
  params: Param[];
}

/**
 * Up to this many bytes (unless the caller gives oneTripBytes),
 * Db.atomically() sends a transaction as one multi-statement round trip;
 * beyond it the text protocol's hex (twice the bytes, parsed by the server)
 * costs more than the round trips it saves.
 */
const ONE_TRIP_BYTES = 64 * 1024;

const ALLOW_BACKSLASH_ESCAPES = `SET SESSION sql_mode =
  TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','))`;

/** A result column: its name, and whether it is DECIMAL (mysql2 returns those as strings). */
export interface Field {
  name: string;
  decimal: boolean;
}

const DECIMAL_TYPE = 246;

export class DbUnavailableError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

export interface DbOptions {
  poolSize?: number;
  /** Deadline for one ordinary operation; bulk operations pass their own. */
  opTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export interface QueryOptions {
  timeoutMs?: number;
  /** A transaction of up to this many bytes goes as one round trip (atomically, readThenChange); ONE_TRIP_BYTES if not given. */
  oneTripBytes?: number;
}

const UNAVAILABLE = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT', 'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR', 'ER_CONNECTION_KILLED',
  'ER_QUERY_INTERRUPTED', 'ER_TOO_MANY_USER_CONNECTIONS',
]);
/**
 * Errors after which InnoDB has rolled the transaction back and running it
 * again is right. ER_AUTOINC_READ_FAILED is how a deadlock (or lock-wait
 * timeout) on an AUTO_INCREMENT table lock comes back: with MariaDB's
 * default innodb_autoinc_lock_mode=1, concurrent creates (INSERT … SELECT
 * into Directory) deadlock that way.
 */
const RETRY_TX = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'ER_AUTOINC_READ_FAILED']);
const MAX_ATTEMPTS = 8;

/** True, after a short random pause, if attempt `n` failed with `e` and is worth running again. */
async function backedOff(e: unknown, n: number): Promise<boolean> {
  if (!RETRY_TX.has(errCode(e) ?? '') || n >= MAX_ATTEMPTS) return false;
  await new Promise((r) => setTimeout(r, Math.random() * 5 * n));
  return true;
}

function errCode(e: unknown): string | undefined {
  return (e as { code?: string })?.code;
}

export function isUnavailable(e: unknown): boolean {
  return e instanceof DbUnavailableError || UNAVAILABLE.has(errCode(e) ?? '') || (e as { fatal?: boolean })?.fatal === true;
}

export function isDuplicateKey(e: unknown): boolean {
  return errCode(e) === 'ER_DUP_ENTRY';
}

function classify(e: unknown): unknown {
  if (e instanceof DbUnavailableError) return e;
  if (isUnavailable(e)) return new DbUnavailableError(`database unavailable: ${(e as Error).message}`, e);
  return e;
}

/** Runs `work` but gives up at the deadline, so no caller ever hangs on a dead server. */
async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DbUnavailableError(`database did not answer within ${ms} ms (${what})`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Statements that read or write through one connection (the pool or a transaction). */
export interface Queryable {
  /** A SELECT (or CALL) returning rows. */
  rows<T extends Row = Row>(sql: string, params?: Param[], opts?: QueryOptions): Promise<T[]>;
  /** INSERT/UPDATE/DELETE; returns the affected row count. */
  run(sql: string, params?: Param[], opts?: QueryOptions): Promise<number>;
  /** A statement without parameters over the text protocol (DDL such as CREATE PROCEDURE). */
  ddl(sql: string): Promise<void>;
  /** CALL of a stored procedure; returns the rows of its first result set. */
  call<T extends Row = Row>(sql: string, params?: Param[], opts?: QueryOptions): Promise<T[]>;
  /** INSERT into a table with an AUTO_INCREMENT key; returns the new key. */
  insert(sql: string, params?: Param[], opts?: QueryOptions): Promise<number>;
}

class Statements implements Queryable {
  /** `autocommit`: each statement is its own transaction, so a deadlock victim can simply run again. */
  constructor(private readonly conn: Pool | PoolConnection, private readonly timeoutMs: number, private readonly autocommit: boolean) {}

  private async execute<T extends RowDataPacket[] | ResultSetHeader>(sql: string, params: Param[], opts: QueryOptions): Promise<T> {
    const timeout = opts.timeoutMs ?? this.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const [result] = await withDeadline(this.conn.execute<T>({ sql, timeout }, params), timeout + 250, 'statement');
        return result;
      } catch (e) {
        if (this.autocommit && await backedOff(e, attempt)) continue;
        throw classify(e);
      }
    }
  }

  async rows<T extends Row = Row>(sql: string, params: Param[] = [], opts: QueryOptions = {}): Promise<T[]> {
    return (await this.execute<RowDataPacket[]>(sql, params, opts)) as unknown as T[];
  }

  async run(sql: string, params: Param[] = [], opts: QueryOptions = {}): Promise<number> {
    return (await this.execute<ResultSetHeader>(sql, params, opts)).affectedRows;
  }

  async call<T extends Row = Row>(sql: string, params: Param[] = [], opts: QueryOptions = {}): Promise<T[]> {
    // A CALL answers with its result sets followed by a status packet.
    const sets = (await this.execute<RowDataPacket[]>(sql, params, opts)) as unknown as unknown[];
    return (Array.isArray(sets[0]) ? sets[0] : []) as T[];
  }

  async insert(sql: string, params: Param[] = [], opts: QueryOptions = {}): Promise<number> {
    return (await this.execute<ResultSetHeader>(sql, params, opts)).insertId;
  }

  async ddl(sql: string): Promise<void> {
    try {
      await withDeadline(this.conn.query({ sql, timeout: 600_000 }), 600_250, 'ddl');
    } catch (e) {
      throw classify(e);
    }
  }
}

export class Db implements Queryable {
  readonly pool: Pool;
  readonly opTimeoutMs: number;
  private readonly statements: Statements;

  constructor(readonly target: DbTarget, opts: DbOptions = {}) {
    this.opTimeoutMs = opts.opTimeoutMs ?? 4500;
    this.pool = mysql.createPool({
      ...target,
      connectionLimit: opts.poolSize ?? 32,
      maxIdle: opts.poolSize ?? 32,
      idleTimeout: 60_000,
      connectTimeout: opts.connectTimeoutMs ?? 4000,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: false,
      // DATETIME as the server prints it, not reinterpreted in the client's time zone.
      dateStrings: true,
      maxPreparedStatements: 256,
      enableKeepAlive: true,
      waitForConnections: true,
      // "Affected rows" means rows matched, not rows changed: the filesystem
      // uses it to tell "no such entry" from "nothing to change".
      flags: ['FOUND_ROWS'],
      // For atomically(): a small transaction in one round trip. Only the text
      // protocol allows it, and every text query we send is formatted from
      // parameters (or is the user's own SQL, in `dbos sql`).
      multipleStatements: true,
      // mysql2 captures a stack trace for every statement by default, which
      // costs more than the rest of a cached FUSE request; errors carry the
      // server's message and code, and we wrap them where they matter.
      trace: false,
      // Every text query we send is complete: atomically() formats its own
      // values and `dbos sql` runs the user's text as it is. mysql2 would
      // otherwise scan each one for placeholders again, which for a commit of
      // a few blocks (tens of KB of hex) is a visible share of the daemon's CPU.
      queryFormat: (sql: string, values?: unknown) => (Array.isArray(values) && values.length > 0 ? mysql.format(sql, values) : sql),
    });
    this.pool.on('connection', (c) => {
      // A broken idle connection must not crash the process; the pool drops it.
      c.on('error', () => undefined);
      // atomically() formats values into the text with backslash escapes,
      // which a server whose sql_mode has NO_BACKSLASH_ESCAPES would misread.
      // (The event hands over mysql2's callback connection, whatever its types say.)
      (c as unknown as { query(sql: string, done: () => void): void }).query(ALLOW_BACKSLASH_ESCAPES, () => undefined);
    });
    this.statements = new Statements(this.pool, this.opTimeoutMs, true);
  }

  rows<T extends Row = Row>(sql: string, params?: Param[], opts?: QueryOptions): Promise<T[]> {
    return this.statements.rows<T>(sql, params, opts);
  }

  run(sql: string, params?: Param[], opts?: QueryOptions): Promise<number> {
    return this.statements.run(sql, params, opts);
  }

  ddl(sql: string): Promise<void> {
    return this.statements.ddl(sql);
  }

  call<T extends Row = Row>(sql: string, params?: Param[], opts?: QueryOptions): Promise<T[]> {
    return this.statements.call<T>(sql, params, opts);
  }

  insert(sql: string, params?: Param[], opts?: QueryOptions): Promise<number> {
    return this.statements.insert(sql, params, opts);
  }

  /** Text-protocol query for arbitrary user SQL (`dbos sql`) and DDL. */
  async text(sql: string, opts: QueryOptions = {}): Promise<{ rows: Row[] | null; fields: Field[]; affected: number }> {
    const timeout = opts.timeoutMs ?? this.opTimeoutMs;
    try {
      const [result, fields] = await withDeadline(this.pool.query({ sql, timeout, rowsAsArray: false }), timeout + 250, 'query');
      if (Array.isArray(result)) {
        const last = Array.isArray(result[0]) ? (result[result.length - 1] as unknown as Row[]) : (result as Row[]);
        const meta = (Array.isArray(fields?.[0]) ? (fields[fields.length - 1] as unknown as FieldPacket[]) : (fields ?? []));
        return { rows: last, fields: meta.map((f) => ({ name: f.name, decimal: f.columnType === DECIMAL_TYPE })), affected: 0 };
      }
      return { rows: null, fields: [], affected: (result as ResultSetHeader).affectedRows };
    } catch (e) {
      throw classify(e);
    }
  }

  /** Runs `work` on one connection without a transaction (session locks, DDL). */
  async session<T>(work: (c: Queryable) => Promise<T>, opts: QueryOptions = {}): Promise<T> {
    const timeout = opts.timeoutMs ?? this.opTimeoutMs;
    let conn: PoolConnection;
    try {
      conn = await withDeadline(this.pool.getConnection(), this.opTimeoutMs, 'connect');
    } catch (e) {
      throw classify(e);
    }
    try {
      return await work(new Statements(conn, timeout, true));
    } catch (e) {
      if (isUnavailable(e)) conn.destroy();
      throw e;
    } finally {
      try { conn.release(); } catch { /* already destroyed */ }
    }
  }

  /**
   * Runs `work` in one transaction on one connection. Deadlocks and lock-wait
   * timeouts roll back and retry (`work` must be safe to re-run); any other
   * error rolls back and propagates.
   */
  async tx<T>(work: (t: Queryable) => Promise<T>, opts: QueryOptions = {}): Promise<T> {
    const timeout = opts.timeoutMs ?? this.opTimeoutMs;
    return this.retried(timeout, async (conn) => {
      await withDeadline(conn.query('START TRANSACTION'), timeout, 'begin');
      const result = await work(new Statements(conn, timeout, false));
      await withDeadline(conn.query('COMMIT'), timeout, 'commit');
      return result;
    });
  }

  /**
   * Runs statements that change rows as one transaction and returns the rows
   * each one matched. A small transaction (a commit of a few blocks) travels
   * as one round trip: START TRANSACTION, the statements and COMMIT in a
   * single multi-statement query, instead of a round trip for each. Retried
   * on deadlock like tx().
   */
  async atomically(statements: Statement[], opts: QueryOptions = {}): Promise<number[]> {
    return (await this.inOneTransaction(statements, opts)) as number[];
  }

  /**
   * Runs a locking read (SELECT … FOR UPDATE) and then statements that change
   * rows, as one transaction sent like atomically()'s; answers the read's rows.
   */
  async readThenChange<T extends Row = Row>(read: Statement, changes: Statement[], opts: QueryOptions = {}): Promise<T[]> {
    const [rows] = await this.inOneTransaction([read, ...changes], opts, true);
    return rows as T[];
  }

  /** Each statement's rows matched (or, for the first if `firstReads`, its rows), in one round trip when the transaction is small. */
  private async inOneTransaction(statements: Statement[], opts: QueryOptions, firstReads = false): Promise<(number | Row[])[]> {
    const bytes = statements.reduce((n, s) => n + s.sql.length + s.params.reduce<number>((m, p) => m + (Buffer.isBuffer(p) ? p.length : 16), 0), 0);
    if (bytes > (opts.oneTripBytes ?? ONE_TRIP_BYTES)) {
      return this.tx(async (t) => {
        const results: (number | Row[])[] = [];
        for (const [i, s] of statements.entries()) {
          results.push(i === 0 && firstReads ? await t.rows(s.sql, s.params, opts) : await t.run(s.sql, s.params, opts));
        }
        return results;
      }, opts);
    }
    const text = ['START TRANSACTION', ...statements.map((s) => mysql.format(s.sql, s.params)), 'COMMIT'].join(';\n');
    const timeout = opts.timeoutMs ?? this.opTimeoutMs;
    return this.retried(timeout, async (conn) => {
      const [results] = await withDeadline(conn.query<ResultSetHeader[]>({ sql: text, timeout }), timeout + 250, 'transaction');
      // A SELECT's result is its rows; any other statement's is a header.
      return (results as (ResultSetHeader | Row[])[]).slice(1, -1).map((r) => (Array.isArray(r) ? r : r.affectedRows));
    });
  }

  /**
   * Runs `attempt` on one pooled connection. If it fails the connection is
   * rolled back (a multi-statement query stops inside its transaction) and
   * returned, or dropped if the server is gone; deadlocks and lock-wait
   * timeouts are tried again, up to 8 times.
   */
  private async retried<T>(timeout: number, attempt: (conn: PoolConnection) => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      let conn: PoolConnection;
      try {
        conn = await withDeadline(this.pool.getConnection(), timeout, 'connect');
      } catch (e) {
        throw classify(e);
      }
      try {
        const result = await attempt(conn);
        conn.release();
        return result;
      } catch (e) {
        const failed = classify(e);
        if (isUnavailable(failed)) {
          conn.destroy();
          throw failed;
        }
        try {
          await withDeadline(conn.query('ROLLBACK'), timeout, 'rollback');
          conn.release();
        } catch {
          conn.destroy();
        }
        if (await backedOff(e, n)) continue;
        throw failed;
      }
    }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
