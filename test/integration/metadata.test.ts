// Names, times, modes, owners and xattrs through the kernel, compared with
// ext4 where ext4 is the reference, and other users on a shared mount.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dbos, mountFresh, sh, type Mounted } from '../helpers/cli.js';

let m: Mounted;
let mp: string;
let ext4: string;

beforeAll(async () => {
  m = await mountFresh();
  mp = m.mountpoint;
  ext4 = mkdtempSync(join(tmpdir(), 'dbos-ext4-'));
});
afterAll(async () => {
  await m?.umount();
  rmSync(ext4, { recursive: true, force: true });
});

/** Runs the same shell script in a directory on ext4 and on the mount; returns both outputs. */
async function both(script: string): Promise<[string, string]> {
  const run = (dir: string) => sh(`set +e; ${script}
true`, { cwd: dir });
  return [await run(ext4), await run(mp)];
}

describe('inode numbers through the kernel', () => {
  it('last when the kernel forgets its inodes, through renames and a remount; a listing\'s d_ino is st_ino', async () => {
    const ino = async (p: string) => Number(await sh(`stat -c %i ${p}`, { cwd: mp }));
    await sh('mkdir -p inos/sub && touch inos/a inos/sub/b', { cwd: mp });
    const before = { dir: await ino('inos'), sub: await ino('inos/sub'), a: await ino('inos/a'), b: await ino('inos/sub/b') };
    expect(new Set(Object.values(before)).size).toBe(4);
    // Here on request, under memory pressure on its own: the kernel forgets
    // unused inodes. libfuse's own numbers were new ones after that, and tar
    // -x failed with "Directory renamed before its status could be extracted".
    writeFileSync('/proc/sys/vm/drop_caches', '2');
    expect([await ino('inos'), await ino('inos/sub'), await ino('inos/a'), await ino('inos/sub/b')]).toEqual(Object.values(before));
    await sh('mv inos/a inos/a2 && mv inos/sub inos/sub2 && touch inos/a', { cwd: mp });
    expect([await ino('inos/a2'), await ino('inos/sub2'), await ino('inos/sub2/b')]).toEqual([before.a, before.sub, before.b]);
    const fresh = await ino('inos/a');
    expect(Object.values(before)).not.toContain(fresh);
    const listing = `python3 -c "import os; print(' '.join(e.name + '=' + str(e.inode()) for e in sorted(os.scandir('inos'), key=lambda e: e.name)))"`;
    expect((await sh(listing, { cwd: mp })).trim()).toBe(`a=${fresh} a2=${before.a} sub2=${before.sub}`);
    const u = dbos(['umount', mp]);
    expect(u.code, u.stderr).toBe(0);
    const r = dbos(['mount', mp], { DBOS_DB_URL: m.t.url });
    expect(r.code, r.stderr).toBe(0);
    expect([await ino('inos'), await ino('inos/a2'), await ino('inos/sub2/b'), await ino('inos/a')]).toEqual([before.dir, before.a, before.b, fresh]);
  });
});

describe('names through the kernel', () => {
  it('odd names behave exactly as on ext4', async () => {
    const script = `
      mkdir odd && cd odd
      for n in '100%' '1_0' 'a\\b' "it's" 'say "hi"' 'two  spaces' $'new\\nline' $'tab\\there' '😀 emoji' '%' '_' '\\' '-dash' '.hidden' 'x%y' 'x_y' 'xay'; do
        printf '%s' "content $n" > "$n"
      done
      mkdir 'd%' 'd_' 'dX' && touch 'dX/keep' 'd_/moved' && mv 'd_' renamed
      ls -A | od -c | sed -n 1,40p
      cat 'x%y' 'x_y' 'a\\b' && echo
      ls -A dX renamed 'd%'
      find . -type f | LC_ALL=C sort | od -c | tail -5
    `;
    const [a, b] = await both(script);
    expect(b).toBe(a);
    expect(a).toContain('moved');
  });

  it('ENAMETOOLONG for a 256-byte name, as on ext4', async () => {
    const script = `
      touch "$(printf 'n%.0s' $(seq 255))" && echo ok-255
      touch "$(printf 'n%.0s' $(seq 256))" 2>&1 | sed 's/.*: //'
      mkdir "$(printf 'd%.0s' $(seq 256))" 2>&1 | sed 's/.*: //'
    `;
    const [a, b] = await both(script);
    expect(b).toBe(a);
    expect(b).toContain('File name too long');
  });

  it('refuses hard links with a clear errno', async () => {
    const out = await sh(`cd ${mp} && echo x > orig && ln orig hard 2>&1; test -e hard || echo no-link`);
    expect(out).toContain('Operation not permitted');
    expect(out).toContain('no-link');
  });
});

describe('times, modes, owners, xattrs', () => {
  it('touch -m, touch -a, touch -d and chmod/chown agree with ext4', async () => {
    const script = `
      echo x > f && mkdir d
      touch -m -d '2001-02-03 04:05:06.123456789' f
      touch -a -d '2002-03-04 05:06:07.987654321' f
      touch -d '1999-12-31 23:59:59.5' d
      chmod 4750 f && chmod 1777 d && chown 1234:5678 f
      stat -c '%n %X.%x %Y.%y %a %u %g' f d | sed 's/ [+-][0-9]*$//'
      ln -s f lnk && touch -h -d '2000-01-01' lnk && stat -c '%n %Y %a %F' lnk
      touch -d '1960-06-01 12:00:00.25' old && touch -d '2100-01-01 00:00:00.75' future
      touch -m -d '1969-12-31 23:59:59.999999999' edge
      stat -c '%n %Y %y' old future edge
    `;
    const [a, b] = await both(script);
    expect(b).toBe(a);
    expect(a).toContain('2001-02-03 04:05:06.123456789');
  });

  it('setfattr/getfattr round-trip, and placement can be set as an xattr', async () => {
    const out = await sh(`cd ${mp} && echo x > xf && setfattr -n user.color -v blue xf && setfattr -n user.bin -v 0x00ff10 xf &&
      getfattr -d --absolute-names -e hex xf | sort && mkdir par && setfattr -n user.dbos.placement -v parallel par &&
      head -c 100000 /dev/urandom > par/data && getfattr --only-values -n user.dbos.placement par/data && echo &&
      setfattr -x user.color xf && { getfattr -n user.color xf 2>&1 || true; } | sed 's/.*: //'`);
    expect(out).toContain('user.bin=0x00ff10');
    expect(out).toContain('user.color=0x626c7565');
    expect(out).toContain('parallel');
    expect(out).toContain('No such attribute');
    const rows = await m.t.db.rows("SELECT COUNT(*) AS n FROM Parallel_file WHERE f_name = '/par/data' AND block_no >= 0");
    expect(Number(rows[0]!.n)).toBeGreaterThan(0);
  });

  it('keeps no file capabilities: setting one fails plainly, reading finds none, writes go on', async () => {
    const out = await sh(`cd ${mp} && echo x > capf &&
      { setfattr -n security.capability -v 0x0100000200000000000000000000000000000000 capf 2>&1 || true; } | sed 's/.*: //' &&
      { getfattr -n security.capability capf 2>&1 || true; } | sed 's/.*: //' && echo y >> capf && cat capf`);
    expect(out).toBe('Operation not supported\nNo such attribute\nx\ny\n');
    expect(await m.t.db.rows("SELECT * FROM Xattr WHERE f_name = '/capf'")).toEqual([]);
  });
});

describe('other users on a shared mount', () => {
  const asNobody = (cmd: string) => `setpriv --reuid=65534 --regid=65534 --clear-groups bash -c ${JSON.stringify(cmd)}`;

  it('files a user creates are theirs, and the kernel enforces permissions', async () => {
    await sh(`cd ${mp} && mkdir shared private && chmod 1777 shared && chmod 700 private && echo secret > private/s`);
    const made = await sh(asNobody(`cd ${mp}/shared && echo mine > n.txt && mkdir nd && stat -c '%u %g %a' n.txt nd`));
    expect(made).toBe('65534 65534 644\n65534 65534 755\n');
    const denied = await sh(asNobody(`cat ${mp}/private/s 2>&1; ls ${mp}/private 2>&1; { echo x > ${mp}/intruder; } 2>&1; true`));
    expect(denied.match(/Permission denied/g)?.length, denied).toBe(3);
    const users = await m.t.db.rows('SELECT user_name FROM User WHERE uid = 65534');
    expect(users).toHaveLength(1);
    const owner = await m.t.db.rows("SELECT user_name FROM Directory WHERE d_name = '/shared' AND content = 'n.txt'");
    expect(owner[0]!.user_name).toBe(users[0]!.user_name);
  });
});
