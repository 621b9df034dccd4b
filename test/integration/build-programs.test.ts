// Developer programs on a real mount: git, make + gcc, sqlite3, python3 -m venv, fio.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountFresh, sh, type Mounted } from '../helpers/cli.js';

let m: Mounted;
let mp: string;

beforeAll(async () => {
  m = await mountFresh();
  mp = m.mountpoint;
});
afterAll(async () => {
  await m?.umount();
});

const GIT = 'git -c user.email=t@example.com -c user.name=Tester -c init.defaultBranch=main';

describe('developer programs', () => {
  it('git init, add, commit, log, status, branch and checkout on hundreds of files', async () => {
    const repo = join(mp, 'repo');
    await sh(`mkdir ${repo} && cd ${repo} && ${GIT} init -q . && mkdir -p src/a src/b docs`);
    for (let i = 0; i < 400; i++) writeFileSync(join(repo, `src/${i % 2 ? 'a' : 'b'}/file${i}.txt`), `line ${i}\n`.repeat(i % 50 + 1));
    await sh(`cp -a /usr/share/doc/git/*.txt ${repo}/docs/ 2>/dev/null || true`, { cwd: repo });
    await sh(`${GIT} add -A && ${GIT} commit -qm initial`, { cwd: repo });
    expect(Number(await sh(`${GIT} ls-files | wc -l`, { cwd: repo }))).toBeGreaterThanOrEqual(400);
    expect(await sh(`${GIT} status --porcelain`, { cwd: repo })).toBe('');
    await sh(`${GIT} branch feature && ${GIT} checkout -q feature && echo changed >> src/a/file1.txt && git rm -q src/b/file0.txt && ${GIT} commit -qam 'change on feature'`, { cwd: repo });
    expect((await sh(`${GIT} log --oneline | wc -l`, { cwd: repo })).trim()).toBe('2');
    await sh(`${GIT} checkout -q main`, { cwd: repo });
    expect(await sh('tail -1 src/a/file1.txt', { cwd: repo })).toBe('line 1\n');
    expect(await sh('test -f src/b/file0.txt && echo present', { cwd: repo })).toBe('present\n');
    expect(await sh(`${GIT} status --porcelain`, { cwd: repo })).toBe('');
    await sh(`${GIT} checkout -q feature`, { cwd: repo });
    expect(await sh('tail -1 src/a/file1.txt', { cwd: repo })).toBe('changed\n');
    expect(await sh('test -f src/b/file0.txt || echo absent', { cwd: repo })).toBe('absent\n');
    await sh(`${GIT} gc -q && ${GIT} fsck --strict`, { cwd: repo });
    expect((await sh(`${GIT} log --all --oneline | wc -l`, { cwd: repo })).trim()).toBe('2');
  });

  it('make and gcc build a small C program on the mount, which then runs', async () => {
    const dir = join(mp, 'cproj');
    await sh(`mkdir ${dir}`);
    writeFileSync(join(dir, 'util.h'), 'int add(int a, int b);\n');
    writeFileSync(join(dir, 'util.c'), '#include "util.h"\nint add(int a, int b) { return a + b; }\n');
    writeFileSync(join(dir, 'main.c'), '#include <stdio.h>\n#include "util.h"\nint main(void) { printf("%d\\n", add(40, 2)); return 0; }\n');
    writeFileSync(join(dir, 'Makefile'), 'prog: main.o util.o\n\tgcc -o $@ $^\n%.o: %.c util.h\n\tgcc -O2 -Wall -c $< -o $@\n');
    await sh('make -s', { cwd: dir });
    expect(await sh('./prog', { cwd: dir })).toBe('42\n');
    expect(await sh('make -q && echo up-to-date', { cwd: dir })).toBe('up-to-date\n');
    await sh('sleep 0.01 && touch util.c', { cwd: dir });
    expect(await sh('make', { cwd: dir })).toContain('util.o');
    expect(await sh('make -q && echo up-to-date', { cwd: dir })).toBe('up-to-date\n');
  });

  it('sqlite3 keeps a database on the mount: 10,000 rows in one transaction, read back', async () => {
    const sql = ['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);', 'BEGIN;'];
    for (let i = 1; i <= 10_000; i++) sql.push(`INSERT INTO t (v) VALUES ('row ${i}');`);
    sql.push('COMMIT;');
    writeFileSync('/tmp/dbos-sqlite-load.sql', sql.join('\n'));
    await sh(`sqlite3 ${mp}/data.db < /tmp/dbos-sqlite-load.sql`);
    expect(await sh(`sqlite3 ${mp}/data.db "SELECT COUNT(*), SUM(id), MAX(v) FROM t"`)).toBe('10000|50005000|row 9999\n');
    expect(await sh(`sqlite3 ${mp}/data.db "PRAGMA integrity_check"`)).toBe('ok\n');
    await sh(`sqlite3 ${mp}/data.db "PRAGMA journal_mode=WAL; UPDATE t SET v = 'x' WHERE id <= 100;"`);
    expect(await sh(`sqlite3 ${mp}/data.db "SELECT COUNT(*) FROM t WHERE v = 'x'"`)).toBe('100\n');
  });

  it('python3 -m venv creates a working virtual environment on the mount', async () => {
    await sh(`python3 -m venv ${mp}/venv`, { timeoutMs: 300_000 });
    expect(await sh(`${mp}/venv/bin/python -c 'import sys, json; print(sys.prefix)'`)).toBe(`${mp}/venv\n`);
    expect(await sh(`${mp}/venv/bin/python -m pip --version`)).toContain(`${mp}/venv`);
  });

  it('fio random read/write with crc32c verification passes', async () => {
    const out = await sh(`fio --name=verify --directory=${mp} --size=24m --bs=4k --rw=randrw --ioengine=psync --verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0 --numjobs=2 --group_reporting --output-format=json`, { timeoutMs: 600_000 });
    const report = JSON.parse(out.slice(out.indexOf('{')));
    const job = report.jobs[0];
    expect(job.error).toBe(0);
    expect(job.read.io_bytes).toBeGreaterThan(0);
    expect(job.write.io_bytes).toBeGreaterThan(0);
  });
});
