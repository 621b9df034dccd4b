// The FUSE adapter without the kernel: requests as the binding delivers them,
// answered by the shim on a real database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as fsc } from 'node:fs';
import { constants } from 'node:os';
import { DbosFs } from '../../../fs/dbosfs.js';
import { fuseOps } from '../../../fs/fuse/adapter.js';
import type { FuseOps } from '../../../fs/fuse/native.js';
import { stderrLogger } from '../../../schema/log.js';
import { freshDatabase, type TestDb } from '../../helpers/db.js';

const { errno } = constants;
let t: TestDb;
let fs: DbosFs;
let other: DbosFs;
let ops: FuseOps;

beforeAll(async () => {
  t = await freshDatabase();
  fs = await DbosFs.open(t.db);
  other = await DbosFs.open(t.db);
  ops = fuseOps(fs, () => ({ uid: 0, gid: 0, pid: 1 }), stderrLogger('adapter-test', 'fatal'));
});
afterAll(async () => {
  await fs?.close();
  await other?.close();
  await t?.drop();
});

/** Calls a path op as the binding does and resolves with its reply (errno first). */
const call = (name: string, ...args: unknown[]) =>
  new Promise<unknown[]>((resolve) => (ops[name] as (...a: unknown[]) => void)(...args, (...reply: unknown[]) => resolve(reply)));

describe('the FUSE adapter', () => {
  it('creates with the kernel\'s open flags: a name another client made after the lookup fails O_EXCL, and O_TRUNC empties it', async () => {
    // The kernel looked the names up and found nothing; then another client made them.
    for (const name of ['/excl', '/trunc', '/plain']) await other.writeFile(name, 'made elsewhere');
    const [exclErr] = await call('create', '/excl', 0o644, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY);
    expect(exclErr).toBe(-errno.EEXIST);
    const [truncErr, truncFd] = await call('create', '/trunc', 0o644, fsc.O_CREAT | fsc.O_TRUNC | fsc.O_WRONLY);
    expect(truncErr).toBe(0);
    await call('release', '/trunc', truncFd);
    const [plainErr, plainFd] = await call('create', '/plain', 0o644, fsc.O_CREAT | fsc.O_RDONLY);
    expect(plainErr).toBe(0);
    await call('release', '/plain', plainFd);
    const stored = await DbosFs.open(t.db, { attrTtlMs: 0 });
    try {
      expect((await stored.readFile('/excl')).toString()).toBe('made elsewhere');
      expect((await stored.readFile('/trunc')).length).toBe(0);
      expect((await stored.readFile('/plain')).toString()).toBe('made elsewhere');
    } finally {
      await stored.close();
    }
  });
});
