// Figures 10a and 10b of the DBOS paper on a mounted filesystem: CLIENTS
// threads, each over FILES files of its own; loop: open a random one of them,
// read or write BLOCKS_PER_OPEN random blocks (half reads, half writes),
// close. fio cannot do this: with openfiles=1 it opens one file per job and
// never closes it while a time-based run lasts.
// Usage: randblocks DIR CLIENTS FILES FILE_BYTES BLOCK_BYTES BLOCKS_PER_OPEN SECONDS
//        randblocks DIR CLIENTS FILES FILE_BYTES layout
// Prints: {"ops":..,"seconds":..,"median_us":..,"p99_us":..} (latency of each
// read or write; the opens and closes count in the wall time).
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *root;
static long files, file_bytes, block_bytes, per_open;
static double seconds;

struct samples { double *us; long n, cap; };
static struct samples per_thread[1024];

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char *what, const char *path) {
  fprintf(stderr, "randblocks: %s %s: ", what, path);
  perror(NULL);
  exit(1);
}

static void add(struct samples *s, double us) {
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 65536;
    s->us = realloc(s->us, s->cap * sizeof *s->us);
    if (!s->us) { perror("realloc"); exit(1); }
  }
  s->us[s->n++] = us;
}

static void *layout(void *arg) {
  long id = (long)arg;
  char path[4200];
  char *data = malloc(file_bytes);
  memset(data, 0x5a, file_bytes);
  for (long f = 0; f < files; f++) {
    snprintf(path, sizeof path, "%s/c%ld.f%ld", root, id, f);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) die("open", path);
    if (write(fd, data, file_bytes) != file_bytes) die("write", path);
    if (close(fd) != 0) die("close", path);
  }
  free(data);
  return NULL;
}

static void *run(void *arg) {
  long id = (long)arg;
  unsigned seed = (unsigned)(id * 2654435761u + 1);
  char path[4200];
  char *buf = malloc(block_bytes);
  memset(buf, 0xa5, block_bytes);
  long blocks = file_bytes / block_bytes;
  double end = now_us() + seconds * 1e6;
  struct samples *s = &per_thread[id];
  while (now_us() < end) {
    snprintf(path, sizeof path, "%s/c%ld.f%ld", root, id, (long)(rand_r(&seed) % files));
    int fd = open(path, O_RDWR);
    if (fd < 0) die("open", path);
    for (long i = 0; i < per_open; i++) {
      off_t off = (off_t)(rand_r(&seed) % blocks) * block_bytes;
      double t0 = now_us();
      ssize_t n = rand_r(&seed) % 2 ? pread(fd, buf, block_bytes, off) : pwrite(fd, buf, block_bytes, off);
      if (n != block_bytes) die("read or write", path);
      add(s, now_us() - t0);
    }
    if (close(fd) != 0) die("close", path);
  }
  free(buf);
  return NULL;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int laying = argc == 6 && strcmp(argv[5], "layout") == 0;
  if (argc != 8 && !laying) {
    fprintf(stderr, "usage: randblocks DIR CLIENTS FILES FILE_BYTES BLOCK_BYTES BLOCKS_PER_OPEN SECONDS\n"
                    "       randblocks DIR CLIENTS FILES FILE_BYTES layout\n");
    return 2;
  }
  root = argv[1];
  long clients = atol(argv[2]);
  files = atol(argv[3]);
  file_bytes = atol(argv[4]);
  if (!laying) {
    block_bytes = atol(argv[5]);
    per_open = atol(argv[6]);
    seconds = atof(argv[7]);
  }
  if (clients < 1 || clients > 1024 || files < 1 || file_bytes < 1 ||
      (!laying && (block_bytes < 1 || block_bytes > file_bytes || per_open < 1 || seconds <= 0))) {
    fprintf(stderr, "randblocks: bad arguments\n");
    return 2;
  }
  pthread_t t[1024];
  double t0 = now_us();
  for (long i = 0; i < clients; i++) pthread_create(&t[i], NULL, laying ? layout : run, (void *)i);
  for (long i = 0; i < clients; i++) pthread_join(t[i], NULL);
  double wall = (now_us() - t0) / 1e6;
  if (laying) {
    printf("{\"files\":%ld,\"seconds\":%.6f}\n", clients * files, wall);
    return 0;
  }
  long total = 0;
  for (long i = 0; i < clients; i++) total += per_thread[i].n;
  double *all = malloc((total ? total : 1) * sizeof *all);
  long k = 0;
  for (long i = 0; i < clients; i++) {
    memcpy(all + k, per_thread[i].us, per_thread[i].n * sizeof *all);
    k += per_thread[i].n;
  }
  qsort(all, total, sizeof *all, by_value);
  // Nearest rank, as the other benchmarks (cli/bench/report.ts).
  double median = total ? all[(total * 50 + 99) / 100 - 1] : 0, p99 = total ? all[(total * 99 + 99) / 100 - 1] : 0;
  printf("{\"ops\":%ld,\"seconds\":%.6f,\"median_us\":%.3f,\"p99_us\":%.3f}\n", total, wall, median, p99);
  return 0;
}
