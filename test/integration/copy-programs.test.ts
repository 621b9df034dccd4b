// Ordinary copying programs on a real mount backed by the real private
// MariaDB: cp -a, tar, rsync, find, du and ls -lR, compared with ext4.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mountFresh, sh, type Mounted } from '../helpers/cli.js';
import { CHECKSUMS, LISTING, makeFixture } from '../helpers/fixture.js';

let m: Mounted;
let fixture: string;
let scratch: string;

beforeAll(async () => {
  m = await mountFresh();
  fixture = makeFixture();
  scratch = mkdtempSync(join(tmpdir(), 'dbos-scratch-'));
});
afterAll(async () => {
  await m?.umount();
  if (fixture) rmSync(dirname(fixture), { recursive: true, force: true });
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

// The copies' own limit, not the suite's 2 minutes: this test checks bytes,
// modes and times, not speed, and the two copies of 146 MB took 100-120 s
// while the rest of the suite ran beside them (speed is dbos bench's job).
const COPY_LIMIT_MS = 900_000;

describe('copying programs', () => {
  it('cp -a of /usr/share/doc onto the mount and back keeps every byte, mode and mtime', async () => {
    const mp = m.mountpoint;
    await sh(`cp -a /usr/share/doc ${mp}/doc`, { timeoutMs: COPY_LIMIT_MS });
    await sh(`cp -a ${mp}/doc ${scratch}/back`, { timeoutMs: COPY_LIMIT_MS });
    const [src, onMount, back] = await Promise.all(['/usr/share/doc', `${mp}/doc`, `${scratch}/back`].map((d) => sh(CHECKSUMS, { cwd: d })));
    expect(src.split('\n').length).toBeGreaterThan(100);
    expect(onMount).toBe(src);
    expect(back).toBe(src);
    const [lsSrc, lsMount, lsBack] = await Promise.all(['/usr/share/doc', `${mp}/doc`, `${scratch}/back`].map((d) => sh(LISTING, { cwd: d })));
    expect(lsMount).toBe(lsSrc);
    expect(lsBack).toBe(lsSrc);
  }, COPY_LIMIT_MS);

  it('tar creates an archive of the mount and extracts one onto it', async () => {
    const mp = m.mountpoint;
    await sh(`tar --format=posix -cf ${scratch}/in.tar -C ${dirname(fixture)} tree`);
    await sh(`mkdir ${mp}/untar && tar -xpf ${scratch}/in.tar -C ${mp}/untar`);
    expect(await sh(LISTING, { cwd: `${mp}/untar/tree` })).toBe(await sh(LISTING, { cwd: fixture }));
    expect(await sh(CHECKSUMS, { cwd: `${mp}/untar/tree` })).toBe(await sh(CHECKSUMS, { cwd: fixture }));
    await sh(`tar --format=posix -cf ${scratch}/out.tar -C ${mp}/untar tree && mkdir ${scratch}/untar && tar -xpf ${scratch}/out.tar -C ${scratch}/untar`);
    expect(await sh(LISTING, { cwd: `${scratch}/untar/tree` })).toBe(await sh(LISTING, { cwd: fixture }));
    expect(await sh(`tar -dpf ${scratch}/out.tar -C ${mp}/untar`)).toBe('');
  });

  it('rsync -a copies the tree, and a second run has nothing to transfer', async () => {
    const mp = m.mountpoint;
    await sh(`rsync -a ${fixture}/ ${mp}/rs/`);
    expect(await sh(LISTING, { cwd: `${mp}/rs` })).toBe(await sh(LISTING, { cwd: fixture }));
    expect(await sh(CHECKSUMS, { cwd: `${mp}/rs` })).toBe(await sh(CHECKSUMS, { cwd: fixture }));
    expect(await sh(`rsync -ai ${fixture}/ ${mp}/rs/`)).toBe('');
    await sh(`rsync -a --delete ${mp}/rs/ ${scratch}/rs-back/`);
    expect(await sh(LISTING, { cwd: `${scratch}/rs-back` })).toBe(await sh(LISTING, { cwd: fixture }));
  });

  it('find, du and ls -lR see the same tree as on ext4', async () => {
    const mp = m.mountpoint;
    await sh(`cp -a ${fixture} ${mp}/walk`);
    const findCmd = `find . -name '*.gz' -size +1k -newermt 2000-01-01 | sort`;
    expect(await sh(findCmd, { cwd: `${mp}/walk` })).toBe(await sh(findCmd, { cwd: fixture }));
    // du: per-file apparent sizes agree (directories differ by design: ext4 sizes them by blocks).
    // `read -r s p` keeps names with spaces whole, and the loop's `if` leaves
    // it with status 0 whatever the last entry is (under pipefail, a trailing
    // `[ -f ] && echo` failed the pipeline when the tree sorted a symlink last).
    const duFiles = `du -ab --apparent-size . | sort -k2 | while read -r s p; do if [ -f "$p" ] && [ ! -L "$p" ]; then echo "$p $s"; fi; done`;
    expect(await sh(duFiles, { cwd: `${mp}/walk` })).toBe(await sh(duFiles, { cwd: fixture }));
    const lsNames = `ls -lR --time-style=+%s . | awk 'NF >= 7 && $1 !~ /^d/ {print $1, $3, $4, $5, $6, $7, $8, $9}' | sort`;
    expect(await sh(lsNames, { cwd: `${mp}/walk` })).toBe(await sh(lsNames, { cwd: fixture }));
  });
});
