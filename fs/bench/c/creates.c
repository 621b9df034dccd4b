// Table 1 of the DBOS paper: THREADS threads each create (or delete) N empty
// files in a directory of their own. "durable" also fsyncs each new file and
// its directory, which is what a durable create costs on ext4.
// Usage: creates DIR THREADS N create|durable|delete
// Prints: {"ops":..,"seconds":..,"avg_us":..}
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *root, *mode;
static long per_thread;
static double total_us[1024];

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void *worker(void *arg) {
  long id = (long)arg;
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/t%ld", root, id);
  if (strcmp(mode, "delete") != 0) mkdir(dir, 0755);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  if (dfd < 0) { perror(dir); exit(1); }
  for (long i = 0; i < per_thread; i++) {
    snprintf(path, sizeof path, "%s/f%ld", dir, i);
    double t0 = now_us();
    if (strcmp(mode, "delete") == 0) {
      if (unlink(path) != 0) { perror(path); exit(1); }
    } else {
      int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
      if (fd < 0) { perror(path); exit(1); }
      if (strcmp(mode, "durable") == 0 && (fsync(fd) != 0 || fsync(dfd) != 0)) { perror("fsync"); exit(1); }
      close(fd);
    }
    total_us[id] += now_us() - t0;
  }
  close(dfd);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: creates DIR THREADS N create|durable|delete\n"); return 2; }
  root = argv[1];
  long threads = atol(argv[2]);
  per_thread = atol(argv[3]);
  mode = argv[4];
  if (threads < 1 || threads > 1024 || per_thread < 1) { fprintf(stderr, "bad THREADS or N\n"); return 2; }
  pthread_t t[1024];
  double t0 = now_us();
  for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, (void *)i);
  double sum = 0;
  for (long i = 0; i < threads; i++) { pthread_join(t[i], NULL); sum += total_us[i]; }
  double secs = (now_us() - t0) / 1e6;
  long ops = threads * per_thread;
  printf("{\"ops\":%ld,\"seconds\":%.6f,\"avg_us\":%.3f}\n", ops, secs, sum / ops);
  return 0;
}
