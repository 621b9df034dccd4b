// A real tree on the local (ext4) disk for copying programs to compare
// against: part of /usr/share/doc, plus the awkward cases (symlinks, a FIFO,
// an empty file, a sparse file, odd modes, a multi-block random file).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function makeFixture(topDirs = 120): string {
  const root = mkdtempSync(join(tmpdir(), 'dbos-fixture-'));
  const tree = join(root, 'tree');
  const script = `
    set -euo pipefail
    mkdir -p "${tree}"
    cd /usr/share/doc
    # sed reads all its input: head would exit early, and the SIGPIPE that sort then gets fails the pipeline under pipefail.
    ls | sort | sed -n '1,${topDirs}p' | xargs -d '\\n' cp -a -t "${tree}"
    cd "${tree}"
    mkdir -p extra/deeper/deepest
    head -c 3000000 /dev/urandom > extra/random.bin
    : > extra/empty
    truncate -s 5M extra/sparse && printf 'end' >> extra/sparse
    printf 'x' > extra/mode0600 && chmod 600 extra/mode0600
    printf '#!/bin/sh\\necho hi\\n' > extra/script.sh && chmod 755 extra/script.sh
    ln -s deeper extra/dirlink
    ln -s ../random.bin extra/deeper/rel-link
    ln -s /nonexistent extra/dangling
    mkfifo extra/fifo
    printf 'odd' > 'extra/name with spaces %_\\\\ and "quotes"'
    touch -d '2001-02-03 04:05:06.123456789' extra/deeper/deepest extra/empty
  `;
  execFileSync('bash', ['-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
  return tree;
}

/** One line per entry: path, type, mode, size (regular files), mtime in ns, symlink target. */
export const LISTING = `find . -printf '%P|%y|%m|%s|%T@|%l\\n' | awk -F'|' 'BEGIN{OFS="|"} { if ($2 != "f") $4 = "-"; print }' | sort`;

/** sha256 of every regular file, sorted by path. */
export const CHECKSUMS = `find . -type f -print0 | sort -z | xargs -0 -r sha256sum`;
