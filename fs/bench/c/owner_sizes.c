// Table 2 of the DBOS paper, the ext4 way: walk the tree and add up, per
// owner, the sizes of the regular files of at least MIN bytes.
// Usage: owner_sizes DIR MIN     Prints: "uid bytes" lines.
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_UID 65536
static long long min_size, bytes[MAX_UID];

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)path; (void)ftw;
  if (type == FTW_F && S_ISREG(st->st_mode) && st->st_size >= min_size && st->st_uid < MAX_UID) bytes[st->st_uid] += st->st_size;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: owner_sizes DIR MIN\n"); return 2; }
  min_size = atoll(argv[2]);
  if (nftw(argv[1], visit, 64, FTW_PHYS) != 0) { perror(argv[1]); return 1; }
  for (long u = 0; u < MAX_UID; u++) if (bytes[u]) printf("%ld %lld\n", u, bytes[u]);
  return 0;
}
