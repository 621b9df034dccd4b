// The kernel's page cache across opens (keep_cache), seen with fincore(1):
// kept while nobody else changes the file, dropped at the next open after
// another client (a second shim on the same database) commits a change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbosFs } from '../../fs/dbosfs.js';
import { mountFresh, sh, type Mounted } from '../helpers/cli.js';

let m: Mounted;
let other: DbosFs;

beforeAll(async () => {
  m = await mountFresh();
  other = await DbosFs.open(m.t.db, { checkPermissions: false, attrTtlMs: 0 });
});
afterAll(async () => {
  await other?.close();
  await m?.umount();
});

/** Bytes of the file in the page cache; fincore opens the file itself, which is what decides. */
const resident = async (name: string) => Number((await sh(`fincore --bytes --noheadings --output RES ${m.mountpoint}/${name}`)).trim());

describe('page cache across opens', () => {
  it('keeps what was read while the file is unchanged, and drops it when another client changes it', async () => {
    await sh(`cd ${m.mountpoint} && head -c 262144 /dev/zero | tr '\\0' a > pc && cat pc > /dev/null`);
    expect(await resident('pc')).toBe(262144);
    expect(await sh(`cd ${m.mountpoint} && head -c 3 pc && tail -c 3 pc`)).toBe('aaaaaa');
    expect(await resident('pc')).toBe(262144);
    await other.writeFile('/pc', Buffer.alloc(262144, 'b')); // the same size: only the content says it changed
    expect(await resident('pc')).toBe(0);
    expect(await sh(`cd ${m.mountpoint} && head -c 3 pc && tail -c 3 pc`)).toBe('bbbbbb');
  });

  it('keeps it across this mount\'s own writes, and what it reads back is what was written', async () => {
    await sh(`cd ${m.mountpoint} && printf 'hello world' > own && cat own > /dev/null && printf 'HELLO' | dd of=own conv=notrunc status=none`);
    expect(await sh(`cat ${m.mountpoint}/own`)).toBe('HELLO world');
    expect(await resident('own')).toBeGreaterThan(0);
    expect((await other.readFile('/own')).toString()).toBe('HELLO world');
  });
});
