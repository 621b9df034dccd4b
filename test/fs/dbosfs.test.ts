// The shim's POSIX semantics, used as a library (no kernel), on a real database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as fsc } from 'node:fs';
import { DbosFs, RENAME_NOREPLACE, XATTR_CREATE, XATTR_REPLACE } from '../../fs/dbosfs.js';
import { S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG } from '../../fs/attrs.js';
import { keyOf } from '../../schema/ddl/fs.js';
import { freshDatabase, type TestDb } from '../helpers/db.js';

let t: TestDb;
let fs: DbosFs;

beforeAll(async () => {
  t = await freshDatabase({ blockSize: 4096 });
  fs = await DbosFs.open(t.db);
});
afterAll(async () => {
  await fs?.close();
  await t?.drop();
});

const errno = async (p: Promise<unknown>) => p.then(() => 'ok', (e) => e.code);
const write = async (path: string, data: string | Buffer) => fs.writeFile(path, data);
const text = async (path: string) => (await fs.readFile(path)).toString();
const rows = async (sql: string, params: (string | number)[] = []) => t.db.rows(sql, params);

describe('files', () => {
  it('creates, writes, reads back and stats a file', async () => {
    await fs.mkdir('/d', 0o755);
    const fd = await fs.create('/d/f.txt', 0o640);
    expect(await fs.write(fd, Buffer.from('hello world'), 0)).toBe(11);
    expect((await fs.read(fd, 100, 6)).toString()).toBe('world');
    await fs.release(fd);
    const st = await fs.getattr('/d/f.txt');
    expect(st.size).toBe(11);
    expect(st.mode & S_IFMT).toBe(S_IFREG);
    expect(st.mode & 0o7777).toBe(0o640);
    expect(st.nlink).toBe(1);
    expect(await text('/d/f.txt')).toBe('hello world');
    expect(await fs.readdir('/d')).toEqual([{ name: 'f.txt', type: 'file', ino: st.ino }]);
  });

  it('keeps bytes across block boundaries, partial blocks and overwrites', async () => {
    const a = Buffer.alloc(3 * 4096 + 100);
    for (let i = 0; i < a.length; i++) a[i] = (i * 7) % 251;
    await write('/span', a);
    const fd = await fs.open('/span', fsc.O_RDWR);
    await fs.write(fd, Buffer.from('XYZ'), 4094);      // straddles blocks 0 and 1
    await fs.write(fd, Buffer.from('tail'), a.length); // appends into the last block
    await fs.release(fd);
    a.write('XYZ', 4094);
    const expected = Buffer.concat([a, Buffer.from('tail')]);
    expect((await fs.readFile('/span')).equals(expected)).toBe(true);
    const blocks = await rows("SELECT block_no, LENGTH(bytes) AS n FROM Localized_file WHERE f_name = ? AND block_no >= 0 ORDER BY block_no", ['/span']);
    expect(blocks.map((r) => [Number(r.block_no), Number(r.n)])).toEqual([[0, 4096], [1, 4096], [2, 4096], [3, 104]]);
  });

  it('stores sparse files without rows for holes and reads holes as zeros', async () => {
    const fd = await fs.create('/sparse', 0o644);
    await fs.write(fd, Buffer.from('end'), 10 * 4096 + 5);
    await fs.release(fd);
    const st = await fs.getattr('/sparse');
    expect(st.size).toBe(10 * 4096 + 8);
    const data = await fs.readFile('/sparse');
    expect(data.subarray(0, 10 * 4096 + 5).every((b) => b === 0)).toBe(true);
    expect(data.subarray(10 * 4096 + 5).toString()).toBe('end');
    const n = await rows('SELECT COUNT(*) AS n FROM Localized_file WHERE f_name = ? AND block_no >= 0', ['/sparse']);
    expect(Number(n[0]!.n)).toBe(1);
  });

  it('truncates down and up, and the cut bytes read back as zeros', async () => {
    await write('/tr', 'a'.repeat(10000));
    await fs.truncate('/tr', 5000);
    expect((await fs.getattr('/tr')).size).toBe(5000);
    await fs.truncate('/tr', 9000);
    const data = await fs.readFile('/tr');
    expect(data.length).toBe(9000);
    expect(data.subarray(0, 5000).toString()).toBe('a'.repeat(5000));
    expect(data.subarray(5000).every((b) => b === 0)).toBe(true);
    const n = await rows('SELECT COUNT(*) AS n FROM Localized_file WHERE f_name = ? AND block_no >= 2', ['/tr']);
    expect(Number(n[0]!.n)).toBe(0);
    expect(await errno(fs.truncate('/tr', -1))).toBe('EINVAL');
    expect(await errno(fs.truncate('/d', 0))).toBe('EISDIR');
  });

  it('honours O_EXCL, O_TRUNC, O_APPEND and access modes', async () => {
    await write('/flags', 'abcdef');
    expect(await errno(fs.open('/flags', fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL))).toBe('EEXIST');
    const ap = await fs.open('/flags', fsc.O_WRONLY | fsc.O_APPEND);
    await fs.write(ap, Buffer.from('gh'), 0);
    expect(await errno(fs.read(ap, 10, 0))).toBe('EBADF');
    await fs.release(ap);
    expect(await text('/flags')).toBe('abcdefgh');
    const ro = await fs.open('/flags', fsc.O_RDONLY);
    expect(await errno(fs.write(ro, Buffer.from('x'), 0))).toBe('EBADF');
    await fs.release(ro);
    await fs.release(await fs.open('/flags', fsc.O_WRONLY | fsc.O_TRUNC));
    expect((await fs.getattr('/flags')).size).toBe(0);
    expect(await errno(fs.read(999999, 1, 0))).toBe('EBADF');
  });
});

// writeBehind is write(2) as the FUSE binding hands it over: already answered,
// never awaited by its caller, so whatever comes next must still see it.
describe('writes behind', () => {
  it('are seen by the reads, stats and appends called after them', async () => {
    await write('/behind', 'hello world');
    const fd = await fs.open('/behind', fsc.O_RDWR);
    await fs.getattr('/behind'); // cached: the next getattr asks no query
    // Block 0 is committed and partly overwritten: the write waits for a query.
    void fs.writeBehind(fd, Buffer.from('XYZW'), 9);
    expect((await fs.getattr('/behind')).size).toBe(13);
    void fs.writeBehind(fd, Buffer.from('H'), 0);
    expect((await fs.read(fd, 100, 0)).toString()).toBe('Hello worXYZW');
    await fs.release(fd);
    // Each append lands at the end as it is when its turn comes, not when it was called.
    const ap = await fs.open('/behind', fsc.O_WRONLY | fsc.O_APPEND);
    for (const part of ['-a', '-bb', '-c']) void fs.writeBehind(ap, Buffer.from(part), 0);
    await fs.release(ap);
    expect(await text('/behind')).toBe('Hello worXYZW-a-bb-c');
  });

  it('report a failure at the next flush or fsync of the handle, once, and keep the writes that succeeded', async () => {
    const fd = await fs.create('/behind-fails', 0o644);
    await fs.writeBehind(fd, Buffer.from('x'), 2 ** 44);
    await fs.writeBehind(fd, Buffer.from('kept'), 0);
    expect(await errno(fs.flush(fd))).toBe('EFBIG');
    expect(await errno(fs.flush(fd))).toBe('ok');
    await fs.writeBehind(fd, Buffer.from('yy'), 2 ** 44 - 1);
    expect(await errno(fs.fsync(fd))).toBe('EFBIG');
    expect(await errno(fs.fsync(fd))).toBe('ok');
    await fs.release(fd);
    expect(await text('/behind-fails')).toBe('kept');
  });

  it('report a failure to the flush called right behind the write', async () => {
    const fd = await fs.create('/behind-edge', 0o644);
    await fs.ftruncate(fd, 2 ** 44 - 1);
    await fs.release(fd);
    // The append's position, and so its EFBIG, is known only when its turn at the file's lock comes.
    const ap = await fs.open('/behind-edge', fsc.O_WRONLY | fsc.O_APPEND);
    void fs.writeBehind(ap, Buffer.from('zz'), 0);
    expect(await errno(fs.flush(ap))).toBe('EFBIG');
    await fs.release(ap);
    await fs.unlink('/behind-edge');
  });
});

describe('names', () => {
  it('returns errnos for bad input', async () => {
    expect(await errno(fs.getattr('/nope'))).toBe('ENOENT');
    expect(await errno(fs.mkdir('/d', 0o755))).toBe('EEXIST');
    expect(await errno(fs.create('/d/f.txt/x', 0o644))).toBe('ENOTDIR');
    expect(await errno(fs.create('/missing/x', 0o644))).toBe('ENOENT');
    expect(await errno(fs.rmdir('/d'))).toBe('ENOTEMPTY');
    expect(await errno(fs.rmdir('/d/f.txt'))).toBe('ENOTDIR');
    expect(await errno(fs.unlink('/d'))).toBe('EISDIR');
    expect(await errno(fs.readdir('/d/f.txt'))).toBe('ENOTDIR');
    expect(await errno(fs.mkdir('/' + 'a'.repeat(256), 0o755))).toBe('ENAMETOOLONG');
    expect(await errno(fs.mkdir('/x\0y', 0o755))).toBe('EINVAL');
    expect(await errno(fs.rmdir('/'))).toBe('EBUSY');
    expect(await errno(fs.readlink('/d/f.txt'))).toBe('EINVAL');
  });

  it('unlink removes the name with its blocks and xattrs in one transaction, for either placement and odd names, as the kernel sends it', async () => {
    const kernelSide = await DbosFs.open(t.db, { checkPermissions: false }); // as under FUSE: the procedure alone decides
    try {
      await fs.mkdir('/ul', 0o755);
      await fs.mkdir('/ul/par', 0o755);
      await fs.setxattr('/ul/par', 'user.dbos.placement', Buffer.from('parallel'));
      const odd = "/ul/it's 100%_\n'x'";
      for (const p of [odd, '/ul/par/big']) {
        await fs.writeFile(p, Buffer.alloc(200_000, 7));
        await fs.setxattr(p, 'user.k', Buffer.from('v'));
      }
      await fs.symlink('target', '/ul/link');
      for (const p of [odd, '/ul/par/big', '/ul/link']) await kernelSide.unlink(p);
      for (const p of [odd, '/ul/par/big', '/ul/link']) expect(await errno(kernelSide.getattr(p))).toBe('ENOENT');
      expect(await rows("SELECT content FROM Directory WHERE d_name IN ('/ul', '/ul/par')")).toEqual([{ content: Buffer.from('par') }]);
      for (const table of ['Localized_file', 'Parallel_file', 'Xattr']) {
        expect(await rows(`SELECT COUNT(*) AS n FROM ${table} WHERE f_name IN (?, ?)`, [odd, '/ul/par/big'])).toEqual([{ n: 0 }]);
      }
      expect(await errno(kernelSide.unlink('/ul/par'))).toBe('EISDIR');
      expect(await errno(kernelSide.unlink(odd))).toBe('ENOENT');
      expect((await kernelSide.getattr('/ul/par')).mode & 0o170000).toBe(0o040000);
    } finally {
      await kernelSide.close();
    }
  });

  it('accepts a name of exactly 255 bytes and paths up to 4096 bytes, not beyond', async () => {
    await fs.mkdir('/' + 'n'.repeat(255), 0o755);
    // 15 levels of 255-byte names plus the slashes: 3840 bytes, then up to 4096.
    let p = '';
    for (let i = 0; i < 15; i++) {
      p += '/' + String(i).padStart(3, '0') + 'x'.repeat(252);
      await fs.mkdir(p, 0o755);
    }
    const room = 4096 - Buffer.byteLength(p) - 1;
    await write(`${p}/${'y'.repeat(room)}`, 'deep');
    expect(await text(`${p}/${'y'.repeat(room)}`)).toBe('deep');
    expect(await errno(fs.create(`${p}/${'y'.repeat(room + 1)}`, 0o644))).toBe('ENAMETOOLONG');
    // The paper's f_name query finds the 4096-byte name.
    const r = await rows('SELECT f_size FROM Localized_file WHERE f_name = ? AND block_no = -1', [`${p}/${'y'.repeat(room)}`]);
    expect(Number(r[0]!.f_size)).toBe(4);
  });

  it('treats %, _, \\, quotes, spaces, newlines and emoji as ordinary bytes', async () => {
    const names = ['100%', '1_0', 'a\\b', "it's", 'say "hi"', 'two words', 'line\nbreak', '😀 party', '%', '_', 'x%y', 'x_y', 'xay'];
    await fs.mkdir('/odd', 0o755);
    for (const n of names) await write(`/odd/${n}`, `content of ${n}`);
    const listed = (await fs.readdir('/odd')).map((e) => e.name).sort();
    expect(listed).toEqual([...names].sort());
    for (const n of names) expect(await text(`/odd/${n}`)).toBe(`content of ${n}`);
    // A directory named "x_" must not capture "xa…" (no LIKE wildcards in prefix queries).
    await fs.mkdir('/odd/d%', 0o755);
    await fs.mkdir('/odd/d_', 0o755);
    await fs.mkdir('/odd/dX', 0o755);
    await write('/odd/dX/keep', 'k');
    await write('/odd/d_/moved', 'm');
    await fs.rename('/odd/d_', '/odd/renamed');
    expect(await text('/odd/dX/keep')).toBe('k');
    expect(await text('/odd/renamed/moved')).toBe('m');
    expect(await errno(fs.getattr('/odd/d_/moved'))).toBe('ENOENT');
    expect((await fs.readdir('/odd/d%'))).toEqual([]);
  });

  it('creates symlinks, reads them, and stat follows them while getattr does not', async () => {
    await write('/target', 'pointed at');
    await fs.symlink('target', '/link');
    await fs.symlink('/nowhere', '/dangling');
    expect(await fs.readlink('/link')).toBe('target');
    expect((await fs.getattr('/link')).mode & S_IFMT).toBe(S_IFLNK);
    expect((await fs.getattr('/link')).size).toBe(6);
    expect((await fs.stat('/link')).mode & S_IFMT).toBe(S_IFREG);
    expect(await text('/link')).toBe('pointed at');
    expect(await errno(fs.stat('/dangling'))).toBe('ENOENT');
    await fs.symlink('loop2', '/loop1');
    await fs.symlink('loop1', '/loop2');
    expect(await errno(fs.stat('/loop1'))).toBe('ELOOP');
  });

  it('refuses hard links with EPERM', async () => {
    expect(await errno(fs.link('/target', '/hard'))).toBe('EPERM');
  });

  it('makes FIFOs and keeps directory link counts', async () => {
    await fs.mknod('/fifo', S_IFIFO | 0o600);
    expect((await fs.getattr('/fifo')).mode & S_IFMT).toBe(S_IFIFO);
    await fs.mkdir('/nl', 0o755);
    expect((await fs.getattr('/nl')).nlink).toBe(2);
    await fs.mkdir('/nl/a', 0o755);
    await fs.mkdir('/nl/b', 0o755);
    await write('/nl/file', 'x');
    expect((await fs.getattr('/nl')).nlink).toBe(4);
    await fs.rmdir('/nl/a');
    expect((await fs.getattr('/nl')).nlink).toBe(3);
    expect((await fs.getattr('/nl')).mode & S_IFMT).toBe(S_IFDIR);
  });
});

describe('inode numbers', () => {
  it('are the rows\' own: distinct, kept through renames (of a file and of its directory) and a reopen, new for a new name', async () => {
    await fs.mkdir('/ino', 0o755);
    await fs.mkdir('/ino/sub', 0o755);
    await write('/ino/a', 'a');
    await write('/ino/sub/b', 'b');
    await fs.symlink('a', '/ino/link');
    const ino = async (p: string) => (await fs.getattr(p)).ino;
    const before = { dir: await ino('/ino'), sub: await ino('/ino/sub'), a: await ino('/ino/a'), b: await ino('/ino/sub/b'), link: await ino('/ino/link') };
    expect(new Set([...Object.values(before), await ino('/')]).size).toBe(6);
    await fs.rename('/ino/a', '/ino/a2');
    await fs.rename('/ino/sub', '/ino/sub2');
    await write('/ino/a', 'new');
    expect([await ino('/ino/a2'), await ino('/ino/sub2'), await ino('/ino/sub2/b')]).toEqual([before.a, before.sub, before.b]);
    const fresh = await ino('/ino/a');
    expect(Object.values(before)).not.toContain(fresh);
    const listed = (await fs.readdir('/ino')).sort((x, y) => x.name.localeCompare(y.name));
    expect(listed.map((e) => [e.name, e.ino])).toEqual([['a', fresh], ['a2', before.a], ['link', before.link], ['sub2', before.sub]]);
    // Another client of the same database (no cache shared) sees the same numbers.
    const other = await DbosFs.open(t.db);
    try {
      expect([(await other.getattr('/ino/a2')).ino, (await other.getattr('/ino')).ino]).toEqual([before.a, before.dir]);
    } finally {
      await other.close();
    }
  });
});

describe('rename', () => {
  it('renames a file over an existing file in one step', async () => {
    await write('/r1', 'one');
    await write('/r2', 'two');
    await fs.rename('/r1', '/r2');
    expect(await text('/r2')).toBe('one');
    expect(await errno(fs.getattr('/r1'))).toBe('ENOENT');
    const n = await rows('SELECT COUNT(*) AS n FROM Localized_file WHERE f_name = ?', ['/r1']);
    expect(Number(n[0]!.n)).toBe(0);
  });

  it('follows POSIX for directory targets and refuses impossible moves', async () => {
    await fs.mkdir('/ra', 0o755);
    await fs.mkdir('/rb', 0o755);
    await fs.mkdir('/rfull', 0o755);
    await write('/rfull/x', 'x');
    await write('/rf', 'f');
    expect(await errno(fs.rename('/ra', '/rfull'))).toBe('ENOTEMPTY');
    expect(await errno(fs.rename('/ra', '/rf'))).toBe('ENOTDIR');
    expect(await errno(fs.rename('/rf', '/ra'))).toBe('EISDIR');
    expect(await errno(fs.rename('/ra', '/ra/inside'))).toBe('EINVAL');
    expect(await errno(fs.rename('/nope', '/x'))).toBe('ENOENT');
    expect(await errno(fs.rename('/rf', '/nodir/x'))).toBe('ENOENT');
    expect(await errno(fs.rename('/rf', '/rf/x'))).toBe('ENOTDIR');
    expect(await errno(fs.rename('/rf', '/target', RENAME_NOREPLACE))).toBe('EEXIST');
    await fs.rename('/ra', '/rb');  // over an empty directory
    expect(await errno(fs.getattr('/ra'))).toBe('ENOENT');
    expect((await fs.getattr('/rb')).mode & S_IFMT).toBe(S_IFDIR);
    await fs.rename('/rf', '/rf');  // same name: nothing happens
    expect(await text('/rf')).toBe('f');
  });

  it('moves a directory with thousands of files atomically, data and xattrs included', async () => {
    await fs.mkdir('/big', 0o755);
    await fs.mkdir('/big/sub', 0o755);
    const N = 2000;
    for (let i = 0; i < N; i++) await write(`/big/${i % 2 ? 'sub/' : ''}f${i}`, `file ${i}`);
    await fs.setxattr('/big/sub/f1', 'user.tag', Buffer.from('v'));
    await fs.mkdir('/dest', 0o755);
    await fs.rename('/big', '/dest/moved');
    const count = async (prefix: string) => Number((await rows(
      'SELECT COUNT(*) AS n FROM Directory WHERE d_name = ? OR (d_name >= ? AND d_name < ?)', [prefix, prefix + '/', prefix + '0']))[0]!.n);
    expect(await count('/big')).toBe(0);
    expect(await count('/dest/moved')).toBe(N + 1);
    const blocks = await rows("SELECT COUNT(*) AS n FROM Localized_file WHERE f_name >= '/big/' AND f_name < '/big0'");
    expect(Number(blocks[0]!.n)).toBe(0);
    expect(await text('/dest/moved/sub/f1999')).toBe('file 1999');
    expect(await text('/dest/moved/f1000')).toBe('file 1000');
    expect((await fs.getxattr('/dest/moved/sub/f1', 'user.tag')).toString()).toBe('v');
    expect((await fs.getattr('/dest')).nlink).toBe(3);
  });
});

describe('attributes', () => {
  it('sets times with nanoseconds, UTIME_NOW and UTIME_OMIT', async () => {
    await write('/times', 'x');
    await fs.utimens('/times', { sec: 1000, nsec: 123456789 }, { sec: 2000, nsec: 987654321 });
    let st = await fs.getattr('/times');
    expect(st.atime).toEqual({ sec: 1000, nsec: 123456789 });
    expect(st.mtime).toEqual({ sec: 2000, nsec: 987654321 });
    await fs.utimens('/times', 'omit', 'now');
    st = await fs.getattr('/times');
    expect(st.atime).toEqual({ sec: 1000, nsec: 123456789 });
    expect(Math.abs(st.mtime.sec - Date.now() / 1000)).toBeLessThan(5);
  });

  it('changes mode and owner, and registers new owners in User', async () => {
    await write('/owned', 'y'.repeat(5000));
    await fs.chmod('/owned', 0o4711);
    expect((await fs.getattr('/owned')).mode & 0o7777).toBe(0o4711);
    await fs.chown('/owned', 4242, 777);
    const st = await fs.getattr('/owned');
    expect([st.uid, st.gid]).toEqual([4242, 777]);
    const u = await rows('SELECT user_name, home_partition FROM User WHERE uid = 4242');
    expect(u).toHaveLength(1);
    const header = await rows('SELECT f_owner, f_size FROM Localized_file WHERE f_name = ? AND block_no = -1', ['/owned']);
    expect(header[0]).toMatchObject({ f_owner: u[0]!.user_name, f_size: 5000 });
    const parts = await rows('SELECT DISTINCT p_key FROM Localized_file WHERE f_name = ?', ['/owned']);
    expect(parts.map((r) => Number(r.p_key))).toEqual([Number(u[0]!.home_partition)]);
    await fs.chown('/owned', -1, 778);
    expect((await fs.getattr('/owned')).uid).toBe(4242);
  });

  it('keeps extended attributes with create/replace semantics', async () => {
    await write('/xa', 'x');
    await fs.setxattr('/xa', 'user.a', Buffer.from('1'));
    await fs.setxattr('/xa', 'user.b', Buffer.from([0, 1, 2, 255]));
    expect(await errno(fs.setxattr('/xa', 'user.a', Buffer.from('2'), XATTR_CREATE))).toBe('EEXIST');
    expect(await errno(fs.setxattr('/xa', 'user.c', Buffer.from('2'), XATTR_REPLACE))).toBe('ENODATA');
    await fs.setxattr('/xa', 'user.a', Buffer.from('3'), XATTR_REPLACE);
    expect((await fs.getxattr('/xa', 'user.a')).toString()).toBe('3');
    expect([...(await fs.getxattr('/xa', 'user.b'))]).toEqual([0, 1, 2, 255]);
    expect(await fs.listxattr('/xa')).toEqual(['user.a', 'user.b']);
    await fs.removexattr('/xa', 'user.a');
    expect(await errno(fs.getxattr('/xa', 'user.a'))).toBe('ENODATA');
    expect(await errno(fs.removexattr('/xa', 'user.a'))).toBe('ENODATA');
    expect(await errno(fs.setxattr('/xa', 'user.big', Buffer.alloc(65537)))).toBe('E2BIG');
    expect(await errno(fs.getxattr('/xa', 'system.posix_acl_access'))).toBe('EOPNOTSUPP');
    await fs.unlink('/xa');
    expect(await rows('SELECT * FROM Xattr WHERE f_name = ?', ['/xa'])).toEqual([]);
  });

  it('answers what cp -a asks after copying a file from rows it has: its stat after utimens, chown and chmod, and the xattrs of a file with none', async () => {
    // cp -a's order: the times while the file is open (its writes commit first), then owner and mode.
    const fd = await fs.create('/cpa', 0o600);
    await fs.write(fd, Buffer.from('copied'), 0);
    const rowsOf = t.db.rows.bind(t.db);
    const reads: string[] = [];
    t.db.rows = ((sql: string, ...rest: never[]) => { reads.push(sql); return rowsOf(sql, ...rest); }) as typeof t.db.rows;
    let st;
    try {
      await fs.utimens('/cpa', { sec: 1000, nsec: 5 }, { sec: 2000, nsec: 7 });
      await fs.chown('/cpa', -1, 778);
      await fs.chmod('/cpa', 0o604);
      await fs.release(fd);
      st = await fs.getattr('/cpa');
      expect(await fs.listxattr('/cpa')).toEqual([]);
      expect(await errno(fs.getxattr('/cpa', 'user.none'))).toBe('ENODATA');
    } finally {
      t.db.rows = rowsOf;
    }
    expect(reads).toEqual([]);
    expect([st.size, st.atime, st.mtime, st.gid, st.mode & 0o7777]).toEqual([6, { sec: 1000, nsec: 5 }, { sec: 2000, nsec: 7 }, 778, 0o604]);
    const stored = await DbosFs.open(t.db, { attrTtlMs: 0 });
    try {
      expect(await stored.getattr('/cpa')).toEqual(st);
      // Xattrs set through one client are seen by it at once, and by another once its cached row expires.
      await fs.setxattr('/cpa', 'user.k', Buffer.from('v'));
      expect(await fs.listxattr('/cpa')).toEqual(['user.k']);
      expect((await fs.getxattr('/cpa', 'user.k')).toString()).toBe('v');
      await fs.removexattr('/cpa', 'user.k');
      expect(await fs.listxattr('/cpa')).toEqual([]);
      await stored.setxattr('/cpa', 'user.elsewhere', Buffer.from('w'));
      await new Promise((r) => setTimeout(r, 1100));
      expect(await fs.listxattr('/cpa')).toEqual(['user.elsewhere']);
      expect((await fs.getxattr('/cpa', 'user.elsewhere')).toString()).toBe('w');
    } finally {
      await stored.close();
    }
  });

  it('looks up names that many callers stat at once in one statement, each caller getting its own file', async () => {
    const other = await DbosFs.open(t.db);
    const names = Array.from({ length: 20 }, (_, i) => `/many/f${i}`);
    try {
      await other.mkdir('/many', 0o755);
      for (const [i, p] of names.entries()) await other.writeFile(p, Buffer.alloc(i + 1));
    } finally {
      await other.close();
    }
    const rowsOf = t.db.rows.bind(t.db);
    const reads: string[] = [];
    t.db.rows = ((sql: string, ...rest: never[]) => { reads.push(sql); return rowsOf(sql, ...rest); }) as typeof t.db.rows;
    let stats;
    try {
      stats = await Promise.all([...names, '/many/none'].map((p) => fs.getattr(p).then((st) => st.size, (e) => e.code)));
    } finally {
      t.db.rows = rowsOf;
    }
    expect(stats).toEqual([...names.map((_, i) => i + 1), 'ENOENT']);
    // One statement for all 21 names (one each before the batcher).
    expect(reads).toHaveLength(1);
  });

  it('creates the names many callers create at once in one statement, each caller getting its own answer', async () => {
    await fs.mkdir('/cb', 0o755);
    const names = Array.from({ length: 16 }, (_, i) => `/cb/f${i}`);
    const EXCL = fsc.O_CREAT | fsc.O_EXCL | fsc.O_RDWR;
    const rowsOf = t.db.rows.bind(t.db);
    const inserts: string[] = [];
    let slowTwice = false;
    t.db.rows = (async (sql: string, params: unknown[], ...rest: never[]) => {
      if (sql.trimStart().startsWith('INSERT INTO Directory')) {
        inserts.push(sql);
        // The first caller's own insert of /cb/twice reaches the server late; it still wins.
        if (!slowTwice && !sql.includes('UNION ALL') && params.includes('twice')) { slowTwice = true; await new Promise((r) => setTimeout(r, 100)); }
      }
      return rowsOf(sql, params as never, ...rest);
    }) as typeof t.db.rows;
    let first, second;
    try {
      first = await Promise.all([
        ...names.map((p, i) => fs.create(p, 0o600 + i, EXCL).then((fd) => fs.release(fd))),
        fs.mknod('/cb/fifo', S_IFIFO | 0o644), fs.symlink('/cb/f0', '/cb/link')].map((p) => errno(p)));
      expect(inserts).toHaveLength(1);
      // A name that exists makes the shared statement fail; then each name
      // is inserted alone, and only the ones in conflict fail.
      second = await Promise.all([
        fs.create('/cb/new1', 0o644, EXCL), fs.create('/cb/twice', 0o644, EXCL), fs.create('/cb/twice', 0o644, EXCL),
        fs.create('/cb/f3', 0o644, EXCL), fs.create('/cb/f4', 0o644), fs.create('/nowhere/x', 0o644, EXCL),
        fs.create('/cb/f5/x', 0o644, EXCL), fs.create('/cb/new2', 0o644, EXCL),
      ].map((p) => p.then((fd) => fs.release(fd)).then(() => 'ok', (e) => e.code)));
    } finally {
      t.db.rows = rowsOf;
    }
    expect(first).toEqual(Array(18).fill('ok'));
    for (const [i, p] of names.entries()) expect((await fs.getattr(p)).mode).toBe(S_IFREG | (0o600 + i));
    expect((await fs.getattr('/cb/fifo')).mode & S_IFMT).toBe(S_IFIFO);
    expect(await fs.readlink('/cb/link')).toBe('/cb/f0');
    expect(second).toEqual(['ok', 'ok', 'EEXIST', 'EEXIST', 'ok', 'ENOENT', 'ENOTDIR', 'ok']);
    const stored = await rows('SELECT content FROM Directory WHERE d_name = ? ORDER BY content', ['/cb']);
    expect(stored.map((r) => String(r.content))).toEqual([...names, '/cb/fifo', '/cb/link', '/cb/new1', '/cb/new2', '/cb/twice']
      .map((p) => p.slice(4)).sort());
  });

  it('unlinks the names many callers unlink at once in one transaction, each caller getting its own answer', async () => {
    await fs.mkdir('/ub', 0o755);
    await fs.mkdir('/ub/dir', 0o755);
    const names = Array.from({ length: 8 }, (_, i) => `/ub/f${i}`);
    for (const p of names) await fs.writeFile(p, Buffer.alloc(5000, 1));
    await fs.symlink('/x', '/ub/link');
    await fs.writeFile('/ub/alone', Buffer.from('a'));
    const sent: string[] = [];
    const spied = { readThenChange: t.db.readThenChange.bind(t.db), call: t.db.call.bind(t.db) };
    t.db.readThenChange = ((...args: never[]) => { sent.push('readThenChange'); return spied.readThenChange(...args); }) as typeof t.db.readThenChange;
    t.db.call = ((...args: never[]) => { sent.push('call'); return spied.call(...args); }) as typeof t.db.call;
    let answers;
    try {
      answers = await Promise.all([...names, '/ub/link', '/ub/f0', '/ub/dir', '/ub/none', '/nowhere/x']
        .map((p) => fs.unlink(p).then(() => 'ok', (e) => e.code)));
      sent.push('then alone');
      await fs.unlink('/ub/alone');
    } finally {
      Object.assign(t.db, spied);
    }
    expect(answers).toEqual([...names.map(() => 'ok'), 'ok', 'ENOENT', 'EISDIR', 'ENOENT', 'ENOENT']);
    expect(sent).toEqual(['readThenChange', 'then alone', 'call']);
    expect((await fs.readdir('/ub')).map((e) => e.name)).toEqual(['dir']);
    expect(await rows('SELECT COUNT(*) AS n FROM Localized_file WHERE f_name >= ? AND f_name < ?', ['/ub/', '/ub0'])).toEqual([{ n: 0 }]);
  });

  it('commits the writes of many files closed at once in one transaction, each with its own bytes, size, times and version', async () => {
    await fs.mkdir('/gc', 0o755);
    await fs.mkdir('/gc/par', 0o755);
    await fs.setxattr('/gc/par', 'user.dbos.placement', Buffer.from('parallel'));
    const names = ["/gc/%_'\"\\\n odd", '/gc/a', '/gc/b', '/gc/c', '/gc/par/p1', '/gc/par/p2'];
    for (const p of names) await fs.writeFile(p, Buffer.from('old content'));
    const fds = await Promise.all(names.map((p) => fs.open(p, fsc.O_RDWR)));
    // Another client changes /gc/b while this one has it open: this client's version of it is no longer current.
    const other = await DbosFs.open(t.db);
    try {
      const ofd = await other.open('/gc/b', fsc.O_WRONLY);
      await other.write(ofd, Buffer.from('OTHER'), 0);
      await other.release(ofd);
    } finally {
      await other.close();
    }
    await Promise.all(fds.map((fd, i) => fs.write(fd, Buffer.from(`new ${i}`.repeat(i + 1)), 2)));
    const sent: string[] = [];
    const spied = { readThenChange: t.db.readThenChange.bind(t.db), atomically: t.db.atomically.bind(t.db) };
    t.db.readThenChange = ((...args: never[]) => { sent.push('together'); return spied.readThenChange(...args); }) as typeof t.db.readThenChange;
    t.db.atomically = ((...args: never[]) => { sent.push('alone'); return spied.atomically(...args); }) as typeof t.db.atomically;
    const before = Date.now() / 1000;
    try {
      await Promise.all(fds.map((fd) => fs.release(fd)));
      sent.push('then one');
      const fd = await fs.open('/gc/a', fsc.O_WRONLY);
      await fs.write(fd, Buffer.from('A'), 0);
      await fs.release(fd);
    } finally {
      Object.assign(t.db, spied);
    }
    // The closes of one turn go together; a later lone one goes alone.
    expect(sent).toEqual(['together', 'then one', 'alone']);
    // Each file's version, before anything here opens them again: kept where
    // only this client wrote, not for /gc/b.
    const kept = async (p: string) => {
      const fd = await fs.open(p, fsc.O_RDONLY);
      const valid = fs.clientCacheValid(fd);
      await fs.release(fd);
      return valid;
    };
    expect(await Promise.all(names.map(kept))).toEqual([true, true, false, true, true, true]);
    /** `base` with `data` written at `pos`, grown as a file grows. */
    const written = (base: string, data: string, pos: number) => {
      const out = Buffer.alloc(Math.max(base.length, pos + data.length));
      Buffer.from(base).copy(out);
      Buffer.from(data).copy(out, pos);
      return out.toString();
    };
    for (const [i, p] of names.entries()) {
      let expected = written(i === 2 ? 'OTHERontent' : 'old content', `new ${i}`.repeat(i + 1), 2);
      if (p === '/gc/a') expected = written(expected, 'A', 0);
      expect([p, (await fs.readFile(p)).toString()]).toEqual([p, expected]);
      const st = await fs.getattr(p);
      expect(st.size).toBe(expected.length);
      expect(st.mtime.sec + st.mtime.nsec / 1e9).toBeGreaterThanOrEqual(Math.floor(before));
      expect(st.ctime).toEqual(st.mtime);
    }
  });

  it('keeps each shared commit small enough for one text round trip, and commits a large one alone', async () => {
    await fs.mkdir('/gs', 0o755);
    const names = Array.from({ length: 16 }, (_, i) => `/gs/f${i}`);
    for (const p of names) await fs.writeFile(p, Buffer.from('-'));
    await fs.writeFile('/gs/big', Buffer.from('-'));
    const fds = await Promise.all([...names, '/gs/big'].map((p) => fs.open(p, fsc.O_WRONLY)));
    // Sixteen commits of 20,000 bytes (five 4 KiB blocks) and one of 40,000.
    await Promise.all(fds.map((fd, i) => fs.write(fd, Buffer.alloc(i < 16 ? 20_000 : 40_000, 65 + i), 0)));
    const spied = { readThenChange: t.db.readThenChange.bind(t.db), atomically: t.db.atomically.bind(t.db), tx: t.db.tx.bind(t.db) };
    const together: number[] = [];
    const blockBytes = (statements: { params: unknown[] }[]) =>
      statements.reduce((n, st) => n + st.params.reduce<number>((m, p) => m + (Buffer.isBuffer(p) ? p.length : 0), 0), 0);
    let alone = 0;
    let prepared = 0;
    t.db.readThenChange = ((read: { params: unknown[] }, changes: { params: unknown[] }[], ...rest: never[]) => {
      together.push(blockBytes(changes));
      return spied.readThenChange(read as never, changes as never, ...rest);
    }) as typeof t.db.readThenChange;
    t.db.atomically = ((...args: never[]) => { alone++; return spied.atomically(...args); }) as typeof t.db.atomically;
    t.db.tx = ((...args: never[]) => { prepared++; return spied.tx(...args); }) as typeof t.db.tx;
    try {
      await Promise.all(fds.map((fd) => fs.release(fd)));
    } finally {
      Object.assign(t.db, spied);
    }
    // 320,000 bytes of small commits: as many files a transaction as fit in 240 KiB.
    expect(together).toEqual([240_000, 80_000]);
    expect(alone).toBe(1);                    // the 40,000-byte commit
    expect(prepared).toBe(0);                 // every transaction went as one round trip
    for (const [i, p] of [...names, '/gs/big'].entries()) {
      expect((await fs.readFile(p)).equals(Buffer.alloc(i < 16 ? 20_000 : 40_000, 65 + i))).toBe(true);
    }
  });

  it('commits each file alone, each with its own answer, when the shared transaction fails', async () => {
    await fs.mkdir('/gf', 0o755);
    const names = ['/gf/a', '/gf/b', '/gf/c', '/gf/d'];
    for (const p of names) await fs.writeFile(p, Buffer.from('....'));
    const fds = await Promise.all(names.map((p) => fs.open(p, fsc.O_WRONLY)));
    await Promise.all(fds.map((fd, i) => fs.write(fd, Buffer.from(String(i)), 0)));
    const spied = { readThenChange: t.db.readThenChange.bind(t.db), atomically: t.db.atomically.bind(t.db) };
    const sent: string[] = [];
    t.db.readThenChange = (() => {
      sent.push('together');
      return Promise.reject(Object.assign(new Error('the shared transaction failed'), { code: 'ER_SOMETHING' }));
    }) as typeof t.db.readThenChange;
    t.db.atomically = ((statements: { params: unknown[] }[], ...rest: never[]) => {
      sent.push('alone');
      // The commit of /gf/c fails on its own.
      if (statements.some((st) => st.params.includes('/gf/c'))) return Promise.reject(Object.assign(new Error('c failed'), { code: 'ER_SOMETHING' }));
      return spied.atomically(statements as never, ...rest);
    }) as typeof t.db.atomically;
    let answers;
    let stored;
    try {
      answers = await Promise.all(fds.map((fd) => fs.release(fd).then(() => 'ok', (e) => e.code)));
      // Read while the spies are in place: the background flusher retries
      // /gf/c within a second, and until then its retries fail as well.
      stored = await Promise.all(names.map(async (p) => (await rows(
        'SELECT CAST(bytes AS CHAR) AS b FROM Localized_file WHERE f_name = ? AND block_no = 0', [p]))[0]?.b));
    } finally {
      Object.assign(t.db, spied);
    }
    // The closes' statements; whatever follows is the flusher retrying /gf/c.
    expect(sent.slice(0, 5)).toEqual(['together', 'alone', 'alone', 'alone', 'alone']);
    expect(answers).toEqual(['ok', 'ok', 'EIO', 'ok']);
    expect(stored).toEqual(['0...', '1...', '....', '3...']);
    // The failed close kept /gf/c's write for the flusher; a sync commits it.
    await fs.sync();
    expect((await fs.readFile('/gf/c')).toString()).toBe('2...');
  });

  it('reports a directory\'s new mtime while its coalesced write is in flight and after it lands', async () => {
    // rsync found this: it stats each directory after the last rename into it
    // and sets the times only if they differ from the source's.
    await fs.mkdir('/slow', 0o755);
    await fs.utimens('/slow', { sec: 1000, nsec: 0 }, { sec: 1000, nsec: 0 });
    expect((await fs.getattr('/slow')).mtime.sec).toBe(1000); // now cached
    const blocker = await t.db.pool.getConnection();
    try {
      await blocker.query('START TRANSACTION');
      // Through the unique key, so that only this row is locked (no gap).
      await blocker.query(`SELECT * FROM Directory WHERE e_key = ${keyOf("CONCAT('/', 0x00, 'slow')")} LOCK IN SHARE MODE`);
      await fs.release(await fs.create('/slow/new', 0o644));
      await new Promise((r) => setTimeout(r, 300)); // the 50 ms flush has started and waits on the row lock
      expect((await fs.getattr('/slow')).mtime.sec).toBeGreaterThan(1000);
      await blocker.query('COMMIT');
    } finally {
      blocker.release();
    }
    await fs.fsyncdir('/slow');
    expect((await fs.getattr('/slow')).mtime.sec).toBeGreaterThan(1000);
    const stored = await rows("SELECT mtime AS s FROM Directory WHERE d_name = '/' AND content = 'slow'");
    expect(Number(stored[0]!.s)).toBeGreaterThan(1000);
  });

  it('answers getxattr of a missing name from the cached entry until a change through it drops the entry', async () => {
    const cached = await DbosFs.open(t.db, { attrTtlMs: 60_000 });
    try {
      await cached.writeFile('/caps', 'x');
      expect(await errno(cached.getxattr('/caps', 'user.asked'))).toBe('ENODATA');
      // Another client sets it behind this one's back: the cached answer stands (as for attributes, within the TTL).
      await t.db.run("INSERT INTO Xattr (f_name, x_name, x_value) VALUES ('/caps', 'user.asked', 'v')");
      expect(await errno(cached.getxattr('/caps', 'user.asked'))).toBe('ENODATA');
      // A change made through this client drops the entry, and the name is read again.
      await cached.setxattr('/caps', 'user.other', Buffer.from('1'));
      expect((await cached.getxattr('/caps', 'user.asked')).toString()).toBe('v');
    } finally {
      await cached.close();
    }
  });

  it('keeps no file capabilities: security.capability is never set and never found', async () => {
    await fs.writeFile('/nocaps', 'x');
    expect(await errno(fs.setxattr('/nocaps', 'security.capability', Buffer.from([1, 0, 0, 2])))).toBe('EOPNOTSUPP');
    expect(await errno(fs.getxattr('/nocaps', 'security.capability'))).toBe('ENODATA');
    expect(await errno(fs.removexattr('/nocaps', 'security.capability'))).toBe('EOPNOTSUPP');
    expect(await fs.listxattr('/nocaps')).toEqual([]);
    expect(await rows('SELECT * FROM Xattr WHERE f_name = ?', ['/nocaps'])).toEqual([]);
  });

  it('reports statfs', async () => {
    const s = await fs.statfs('/');
    expect(s.namemax).toBe(255);
    expect(s.blocks).toBeGreaterThan(0);
    expect(s.bfree).toBeLessThanOrEqual(s.blocks);
  });
});

describe('placement', () => {
  it('puts files under a parallel directory in Parallel_file and inherits block size', async () => {
    await fs.mkdir('/par', 0o755);
    await fs.setPlacement('/par', 'parallel');
    await fs.setBlockSize('/par', 8192);
    await fs.mkdir('/par/inner', 0o755);
    const data = Buffer.alloc(5 * 8192, 9);
    await write('/par/inner/big', data);
    expect((await fs.getxattr('/par/inner/big', 'user.dbos.placement')).toString()).toBe('parallel');
    expect((await fs.getxattr('/par/inner/big', 'user.dbos.block_size')).toString()).toBe('8192');
    const blocks = await rows('SELECT block_no, LENGTH(bytes) AS n FROM Parallel_file WHERE f_name = ? ORDER BY block_no', ['/par/inner/big']);
    expect(blocks.map((r) => Number(r.block_no))).toEqual([-1, 0, 1, 2, 3, 4]);
    expect(await rows('SELECT * FROM Localized_file WHERE f_name = ?', ['/par/inner/big'])).toEqual([]);
    expect((await fs.readFile('/par/inner/big')).equals(data)).toBe(true);
    await fs.rename('/par/inner/big', '/moved-parallel');
    expect((await fs.readFile('/moved-parallel')).equals(data)).toBe(true);
    expect(await errno(fs.setPlacement('/moved-parallel', 'localized'))).toBe('EBUSY');
    expect(await errno(fs.setxattr('/par', 'user.dbos.placement', Buffer.from('sideways')))).toBe('EINVAL');
    expect(await errno(fs.setBlockSize('/par', 100))).toBe('EINVAL');
  });
});

describe('the paper\'s queries', () => {
  it('address blocks by f_name and block_no, and sum sizes per owner', async () => {
    await fs.mkdir('/paper', 0o755);
    await write('/paper/small', 'x'.repeat(100));
    await write('/paper/large', 'y'.repeat(30000));
    await fs.chown('/paper/large', 5151, 0);
    const b = await rows('SELECT bytes FROM Localized_file WHERE f_name = ? AND block_no = ?', ['/paper/large', 7]);
    expect((b[0]!.bytes as Buffer).toString()).toBe('y'.repeat(30000 - 7 * 4096));
    const owner = (await rows('SELECT user_name FROM User WHERE uid = 5151'))[0]!.user_name as string;
    const sum = await rows('SELECT SUM(f_size) AS s FROM Localized_file WHERE f_owner = ? AND f_size >= ?', [owner, 20 * 1024]);
    expect(Number(sum[0]!.s)).toBe(30000);
  });
});

describe('permissions (library use, as a non-root caller)', () => {
  it('gives EACCES and EPERM where POSIX does', async () => {
    const alice = { uid: 2001, gid: 2001 };
    const bob = { uid: 2002, gid: 2002 };
    await fs.mkdir('/home', 0o755);
    await fs.mkdir('/home/alice', 0o700);
    await fs.chown('/home/alice', alice.uid, alice.gid);
    const fd = await fs.create('/home/alice/secret', 0o600, fsc.O_CREAT | fsc.O_RDWR, alice);
    await fs.release(fd);
    expect(await errno(fs.create('/home/alice/intruder', 0o644, fsc.O_CREAT | fsc.O_RDWR, bob))).toBe('EACCES');
    expect(await errno(fs.open('/home/alice/secret', fsc.O_RDONLY, 0, bob))).toBe('EACCES');
    expect(await errno(fs.readdir('/home/alice', bob))).toBe('EACCES');
    expect(await errno(fs.chmod('/home/alice/secret', 0o777, bob))).toBe('EPERM');
    expect(await errno(fs.chown('/home/alice/secret', bob.uid, -1, alice))).toBe('EPERM');
    expect(await errno(fs.unlink('/home/alice/secret', bob))).toBe('EACCES');
    expect(await errno(fs.mkdir('/home/bobdir', 0o755, bob))).toBe('EACCES');
    expect((await fs.getattr('/home/alice/secret')).uid).toBe(alice.uid);
  });
});

describe('fsync', () => {
  it('writes the times of directories fsynced together in one statement, and those of a later fsyncdir in the next', async () => {
    // Times written only at fsyncdir here, so that the count below is theirs.
    const slow = await DbosFs.open(t.db, { dirTimeDelayMs: 60_000 });
    const dirs = Array.from({ length: 20 }, (_, i) => `/dt-group-${i}`);
    const sent: string[] = [];
    const run = t.db.run.bind(t.db);
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((r) => { releaseFirst = r; });
    try {
      for (const d of dirs) await slow.mkdir(d, 0o755);
      for (const d of dirs) await slow.release(await slow.create(`${d}/f`, 0o644));
      t.db.run = (async (sql: string, params?: unknown[], ...rest: never[]) => {
        // This shim's writes of these directories' times (the suite's other shim shares t.db).
        if (sql.startsWith('UPDATE Directory') && params?.some((v) => String(v).startsWith('dt-group-'))) {
          sent.push(sql);
          // The first write stays out until the late fsyncdir below has asked.
          if (sent.length === 1) await firstHeld;
        }
        return run(sql, params as never, ...rest);
      }) as typeof t.db.run;
      const together = Promise.all(dirs.map((d) => slow.fsyncdir(d)));
      await new Promise((r) => setTimeout(r, 20));
      await slow.release(await slow.create(`${dirs[0]}/g`, 0o644));
      const late = slow.fsyncdir(dirs[0]!);
      await new Promise((r) => setTimeout(r, 20));
      expect(sent).toHaveLength(1);
      releaseFirst();
      await together;
      await late;
      expect(sent).toHaveLength(2);
      // Each directory's stored mtime is the one this shim reports.
      for (const d of dirs) {
        const [r] = await rows('SELECT mtime FROM Directory WHERE d_name = ? AND content = ?', ['/', d.slice(1)]);
        const m = (await slow.getattr(d)).mtime;
        expect(String(r!.mtime)).toBe(`${m.sec}.${String(m.nsec).padStart(9, '0')}`);
      }
    } finally {
      t.db.run = run as typeof t.db.run;
      releaseFirst();
      await slow.close();
    }
  });

  it('stores a directory\'s coalesced times to the nanosecond, as it reported them before they were written', async () => {
    // GREATEST of the DECIMAL column and a string parameter would compare doubles.
    await fs.mkdir('/dt-exact', 0o755);
    await fs.utimens('/dt-exact', { sec: 1_700_000_000, nsec: 999_999_999 }, { sec: 1_700_000_000, nsec: 999_999_999 });
    await fs.release(await fs.create('/dt-exact/f', 0o644));
    const reported = (await fs.getattr('/dt-exact')).mtime;
    await fs.fsyncdir('/dt-exact');
    const [r] = await rows("SELECT mtime, ctime FROM Directory WHERE d_name = '/' AND content = 'dt-exact'");
    const want = `${reported.sec}.${String(reported.nsec).padStart(9, '0')}`;
    expect([String(r!.mtime), String(r!.ctime)]).toEqual([want, want]);
  });

  it('makes fsyncs that wait together share one sync of the redo log, and one that comes later waits for its own', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `/fs-group-${i}`);
    for (const p of names) await fs.writeFile(p, Buffer.from('x'));
    const fds = await Promise.all(names.map((p) => fs.open(p, fsc.O_RDONLY)));
    const text = t.db.text.bind(t.db);
    const sent: string[] = [];
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((r) => { releaseFirst = r; });
    t.db.text = (async (sql: string, ...rest: never[]) => {
      if (sql === 'FLUSH ENGINE LOGS') {
        sent.push(sql);
        // The first sync stays out until the late fsync below has asked.
        if (sent.length === 1) await firstHeld;
      }
      return text(sql, ...rest);
    }) as typeof t.db.text;
    try {
      const together = Promise.all(fds.map((fd) => fs.fsync(fd)));
      while (sent.length === 0) await new Promise((r) => setImmediate(r));
      let lateDone = false;
      const late = fs.fsync(fds[0]!).then(() => { lateDone = true; });
      await new Promise((r) => setTimeout(r, 20));
      expect(sent).toHaveLength(1);
      releaseFirst();
      await together;
      await late;
      expect(lateDone).toBe(true);
      // Twenty fsyncs, one sync; the late one, asked while that sync was out, got the next.
      expect(sent).toHaveLength(2);
    } finally {
      t.db.text = text as typeof t.db.text;
      await Promise.all(fds.map((fd) => fs.release(fd)));
    }
  });
});
