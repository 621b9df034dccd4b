// Users as the filesystem sees them: the User table maps a uid to the paper's
// user_name and home partition. A uid is registered the first time it owns a
// file, named from /etc/passwd (or "uid<N>" when it has no entry there).
import { readFileSync } from 'node:fs';
import type { Queryable } from '../schema/db.js';
import * as users from './sql/users.js';

const NOBODY = 65534;

function passwdName(uid: number): string | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && Number(id) === uid) return name;
    }
  } catch {
    // no passwd file: fall through
  }
  return undefined;
}

export class Identities {
  private byUid = new Map<number, users.UserRow>();
  private byName = new Map<string, users.UserRow>();

  constructor(private readonly q: Queryable, readonly partitions: number) {}

  async reload(): Promise<void> {
    const rows = await users.all(this.q);
    this.byUid = new Map(rows.map((u) => [u.uid, u]));
    this.byName = new Map(rows.map((u) => [u.name, u]));
  }

  /** The user for `uid`, registering it on first sight. */
  async user(uid: number): Promise<users.UserRow> {
    const known = this.byUid.get(uid);
    if (known) return known;
    const homePartition = uid % this.partitions;
    const preferred = passwdName(uid) ?? `uid${uid}`;
    for (const name of [preferred, `${preferred}.${uid}`]) {
      if (await users.insert(this.q, { name, uid, homePartition })) break;
      await this.reload();
      if (this.byUid.has(uid)) break;
    }
    await this.reload();
    const row = this.byUid.get(uid);
    if (!row) throw new Error(`could not register uid ${uid} in the User table`);
    return row;
  }

  /** The uid that owns files of `name`; unknown names (edited by hand) map to nobody. */
  async uidOf(name: string): Promise<number> {
    if (!this.byName.has(name)) await this.reload();
    return this.byName.get(name)?.uid ?? NOBODY;
  }

  cachedUidOf(name: string): number | undefined {
    return this.byName.get(name)?.uid;
  }
}
