#!/usr/bin/env node
// Rebuilds fuse-native 2.2.6 from source against Debian's libfuse2 (pkg-config
// "fuse") instead of the libfuse.so it bundles, and fixes three defects that
// would break ordinary programs on the mount:
//   1. utimens passes the access time twice, so mtime is lost (cp -a, tar, rsync);
//   2. timestamps cross the binding as milliseconds; we carry seconds and
//      nanoseconds instead (the JS side is fs/fuse/native.ts), which also lets
//      UTIME_NOW and UTIME_OMIT through intact;
//   3. the bundled library is not the system's;
//   4. it leaves fuse_operations.flag_utime_omit_ok unset, so libfuse drops any
//      utimensat that sets only one of atime/mtime (tar -x, touch -m).
// A handle number with bit 30 set asks for direct_io on that open (no page
// cache): the mailbox files of dbos messaging are queues, not files. Bit 29
// asks the kernel to keep the file's page cache across this open (keep_cache):
// the shim sets it when nothing changed the file since the kernel cached it.
// dbos keeps no file capabilities (security.capability), and the kernel asks
// for that attribute before every write to a FUSE file: the binding answers
// ENODATA itself instead of a round trip through JavaScript for each write.
// It also records the calling process's uid, gid and pid (fuse_get_context) at
// the start of the per-thread struct that JS already sees as a Buffer, so files
// created through a shared mount get the right owner.
// libfuse's worker threads come and go with the load (it keeps at most ten
// idle), and fuse-native gave every new thread a new per-thread struct with
// its own uv_async_t, never freed: the event loop walks every async handle on
// each wake-up, so each request cost more the longer a busy mount lived (a
// benchmark run made thousands). A thread's struct now goes back to a free
// list when the thread exits, and the next new thread takes it.
// The /dev/fuse descriptor is made close-on-exec: a child of the daemon
// inherited it, and while any process holds it the connection stays alive,
// so the child's own requests to the mount could wait forever on a daemon
// that had died.
// RELEASE is queued for JavaScript and answered at once: the kernel sends it
// after close(2) has returned and never waits for it, so a libfuse thread
// need not sleep until JavaScript wakes it. And create hands over its new
// file's attributes with the handle, so libfuse's fgetattr right after it is
// answered in C: two fewer cross-thread round trips for each file created.
// A FLUSH while no handle on the mount has been written through since its last
// FLUSH went to JavaScript is answered in C: only writes leave anything for
// the shim to commit at close.
// Create hands JavaScript the open flags too (fuse-native passed only the
// mode): when another client makes the name between the kernel's lookup and
// its create, O_EXCL must fail with EEXIST and O_TRUNC must truncate.
// st_ino is 64 bits: fuse-native carried 32, and dbos's inode numbers (with
// use_ino) come from a counter that may pass 2^32 on a long-lived cluster.
// Each edit must match exactly once, or the build stops: a different
// fuse-native version needs this script reviewed, not silently half-applied.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const pkgDir = dirname(require.resolve('fuse-native/package.json'));
const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
if (version !== '2.2.6') {
  console.error(`build-fuse-native: expected fuse-native 2.2.6, found ${version}; review this script.`);
  process.exit(1);
}

const MARK = '/* dbos: rebuilt against system libfuse2 */';
/** The edits added after the first release of this script, applied on their own to a tree patched before them. */
const MARK_SECOND = '/* dbos: keep_cache, no security.capability */';
const MARK_THIRD = '/* dbos: per-thread structs reused */';
const MARK_FOURTH = '/* dbos: /dev/fuse close-on-exec */';
const MARK_FIFTH = '/* dbos: releases queued, create answers fgetattr */';
const MARK_SIXTH = '/* dbos: flush with nothing written answered in C */';
const MARK_SEVENTH = '/* dbos: writes answered in C, queued for JavaScript */';
const MARK_EIGHTH = '/* dbos: no queued write before the queue can be drained */';
const MARK_NINTH = '/* dbos: create passes its open flags */';
const MARK_TENTH = '/* dbos: 64-bit inode numbers */';

function edit(text, from, to, what) {
  const count = text.split(from).length - 1;
  if (count !== 1) throw new Error(`build-fuse-native: cannot apply "${what}" (${count} matches)`);
  return text.replace(from, to);
}

/** edit(), limited to the text between two markers (each must occur once). */
function editBetween(text, startMark, endMark, from, to, what) {
  const start = text.indexOf(startMark);
  const end = text.indexOf(endMark, start);
  if (start < 0 || end < 0 || text.indexOf(startMark, start + 1) >= 0) throw new Error(`build-fuse-native: cannot find the place for "${what}"`);
  return text.slice(0, start) + edit(text.slice(start, end), from, to, what) + text.slice(end);
}

const cPath = join(pkgDir, 'fuse-native.c');
let c = readFileSync(cPath, 'utf8');
if (!c.includes(MARK)) {
  c = edit(c, 'FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)', 'FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)',
    'utimens passes mtime');
  // Times travel as one 64-bit word: signed seconds in the top 34 bits (years
  // 1697 to 2242), nanoseconds in the low 30 (which also hold UTIME_NOW/OMIT).
  c = edit(c,
    'uint64_t ms = (ts->tv_sec * 1000) + (ts->tv_nsec / 1000000);\n  return ms;',
    'return (((uint64_t) (int64_t) ts->tv_sec) << 30) | ((uint64_t) ts->tv_nsec & 0x3fffffffu);',
    'timespec to seconds:nanoseconds');
  c = edit(c,
    'uint64_t ms = uint32s_to_uint64(ints);\n  ts->tv_sec = ms / 1000;\n  ts->tv_nsec = (ms % 1000) * 1000000;',
    'uint64_t v = uint32s_to_uint64(ints);\n  ts->tv_sec = (time_t) (((int64_t) v) >> 30);\n  ts->tv_nsec = (long) (v & 0x3fffffffu);',
    'seconds:nanoseconds to timespec');
  c = edit(c, 'typedef struct {\n  napi_ref self;',
    'typedef struct {\n  uint32_t caller_uid;\n  uint32_t caller_gid;\n  uint32_t caller_pid;\n  napi_ref self;',
    'caller fields at offset 0');
  c = edit(c, '  l->op = op_##name;\\\n',
    '  l->caller_uid = fuse_get_context()->uid;\\\n  l->caller_gid = fuse_get_context()->gid;\\\n  l->caller_pid = fuse_get_context()->pid;\\\n  l->op = op_##name;\\\n',
    'record the caller');
  c = edit(c, 'struct fuse_operations ops = { };',
    'struct fuse_operations ops = { };\n  ops.flag_utime_omit_ok = 1;',
    'pass UTIME_OMIT and UTIME_NOW through');
  c = editBetween(c, 'FUSE_METHOD(open, 2, 1,', 'FUSE_METHOD(opendir',
    '    l->info->fh = fd;\n',
    '    l->info->fh = fd;\n    if (fd & 0x40000000) l->info->direct_io = 1;\n',
    'direct_io for handles with bit 30 set');
  c = `${MARK}\n${c}`;
}
if (!c.includes(MARK_SECOND)) {
  c = editBetween(c, 'FUSE_METHOD(open, 2, 1,', 'FUSE_METHOD(opendir',
    '    l->info->fh = fd;\n',
    '    l->info->fh = fd & ~0x20000000;\n    if (fd & 0x20000000) l->info->keep_cache = 1;\n',
    'keep_cache for handles with bit 29 set');
  c = edit(c, '#include <string.h>\n', '#include <string.h>\n#include <errno.h>\n', 'errno.h');
  c = edit(c,
    'FUSE_METHOD(getxattr, 4, 1, (const char *path, const char *name, char *value, size_t size), {\n',
    'FUSE_METHOD(getxattr, 4, 1, (const char *path, const char *name, char *value, size_t size), {\n  if (strcmp(name, "security.capability") == 0) return -ENODATA;\n',
    'answer security.capability without JavaScript');
  c = `${MARK_SECOND}\n${c}`;
}
if (!c.includes(MARK_THIRD)) {
  c = edit(c, '  uv_async_t async;\n  uv_mutex_t mut;\n',
    '  uv_async_t async;\n  uv_mutex_t mut;\n  void *free_locals;\n', 'free list in the mount');
  c = edit(c, '  fuse_thread_t *fuse;\n  uv_sem_t sem;\n',
    '  fuse_thread_t *fuse;\n  void *next_free;\n  uv_sem_t sem;\n', 'free-list link in the per-thread struct');
  c = edit(c, 'static void* start_fuse_thread (void *data) {',
    `// A libfuse worker is exiting: its struct (and uv_async_t) serves the next new worker.
static void release_thread_locals (void *data) {
  fuse_thread_locals_t *l = (fuse_thread_locals_t *) data;
  fuse_thread_t *ft = l->fuse;
  uv_mutex_lock(&(ft->mut));
  l->next_free = ft->free_locals;
  ft->free_locals = l;
  uv_mutex_unlock(&(ft->mut));
}

static void* start_fuse_thread (void *data) {`, 'release a worker\'s struct');
  c = edit(c, '  uv_mutex_lock(&(ft->mut));\n  ft->async.data = ft;\n',
    `  uv_mutex_lock(&(ft->mut));
  if (ft->free_locals != NULL) {
    fuse_thread_locals_t *reused = (fuse_thread_locals_t *) ft->free_locals;
    ft->free_locals = reused->next_free;
    pthread_setspecific(thread_locals_key, (void *) reused);
    uv_mutex_unlock(&(ft->mut));
    return reused;
  }
  ft->async.data = ft;
`, 'reuse a released struct');
  c = edit(c, 'pthread_key_create(&(thread_locals_key), NULL); // TODO: add destructor',
    'pthread_key_create(&(thread_locals_key), release_thread_locals);', 'release structs at thread exit');
  c = `${MARK_THIRD}\n${c}`;
}
if (!c.includes(MARK_FOURTH)) {
  c = edit(c, '#include <string.h>\n', '#include <string.h>\n#include <fcntl.h>\n', 'fcntl.h');
  c = edit(c, '  struct fuse *fuse = fuse_new(ch, &args, &ops, sizeof(struct fuse_operations), ft);\n',
    '  fcntl(fuse_chan_fd(ch), F_SETFD, FD_CLOEXEC);\n  struct fuse *fuse = fuse_new(ch, &args, &ops, sizeof(struct fuse_operations), ft);\n',
    '/dev/fuse close-on-exec');
  c = `${MARK_FOURTH}\n${c}`;
}
if (!c.includes(MARK_FIFTH)) {
  // create hands its new file's attributes over with the handle; libfuse's
  // fgetattr right after it (on the same thread, for the entry it replies)
  // takes them instead of a second round trip through JavaScript.
  c = edit(c, '  fuse_thread_t *fuse;\n  void *next_free;\n',
    '  fuse_thread_t *fuse;\n  void *next_free;\n  const char *created_path;\n  uint64_t created_fh;\n  struct stat created_stat;\n',
    'room for create\'s attributes');
  c = edit(c, 'FUSE_METHOD(create, 2, 1, (const char *path, mode_t mode, struct fuse_file_info *info), {\n  l->path = path;\n',
    'FUSE_METHOD(create, 2, 2, (const char *path, mode_t mode, struct fuse_file_info *info), {\n  l->created_path = NULL;\n  l->path = path;\n',
    'create takes attributes');
  c = editBetween(c, 'FUSE_METHOD(create, 2, 2,', 'FUSE_METHOD_VOID(utimens',
    '  NAPI_ARGV_INT32(fd, 2)\n  if (fd != 0) {\n    l->info->fh = fd;\n  }\n',
    `  NAPI_ARGV_INT32(fd, 2)
  if (fd != 0) {
    l->info->fh = fd;
  }
  napi_valuetype created_type = napi_undefined;
  napi_typeof(env, argv[3], &created_type);
  if (res == 0 && created_type == napi_object) {
    NAPI_ARGV_BUFFER_CAST(uint32_t*, created_ints, 3)
    memset(&(l->created_stat), 0, sizeof(struct stat));
    populate_stat(created_ints, &(l->created_stat));
    l->created_fh = l->info->fh;
    l->created_path = l->path;
  }
`, 'keep create\'s attributes');
  c = edit(c,
    'FUSE_METHOD(fgetattr, 2, 1, (const char *path, struct stat *stat, struct fuse_file_info *info), {\n',
    `FUSE_METHOD(fgetattr, 2, 1, (const char *path, struct stat *stat, struct fuse_file_info *info), {
  if (l->created_path != NULL) {
    int same = l->created_path == path && info != NULL && info->fh == l->created_fh;
    l->created_path = NULL;
    if (same) {
      *stat = l->created_stat;
      return 0;
    }
  }
`, 'fgetattr after create answers from C');

  // The kernel sends RELEASE after close(2) has returned and never waits for
  // the answer: the libfuse thread queues it for JavaScript and is free at
  // once, instead of sleeping until JavaScript wakes it (a second cross-thread
  // wake-up for every file closed). The JavaScript handler signals a struct
  // nobody waits on.
  c = edit(c, '  uv_async_t async;\n  uv_mutex_t mut;\n  void *free_locals;\n',
    '  uv_async_t async;\n  uv_mutex_t mut;\n  void *free_locals;\n  uv_async_t release_async;\n  uv_mutex_t release_mut;\n  void *releases;\n  void *release_sink;\n',
    'release queue in the mount');
  c = edit(c, 'NAPI_METHOD(fuse_native_mount) {', `typedef struct queued_release {
  struct queued_release *next;
  uint64_t fh;
  char path[];
} queued_release_t;

static int fuse_native_release_queued (const char *path, struct fuse_file_info *info) {
  fuse_thread_t *ft = (fuse_thread_t *) fuse_get_context()->private_data;
  size_t n = strlen(path) + 1;
  queued_release_t *r = (queued_release_t *) malloc(sizeof(queued_release_t) + n);
  if (r == NULL) return fuse_native_release(path, info);
  r->fh = info != NULL ? info->fh : 0;
  memcpy(r->path, path, n);
  uv_mutex_lock(&(ft->release_mut));
  r->next = (queued_release_t *) ft->releases;
  ft->releases = r;
  uv_mutex_unlock(&(ft->release_mut));
  uv_async_send(&(ft->release_async));
  return 0;
}

// The struct the queued releases' JavaScript handlers signal: made once, like a thread's.
static fuse_thread_locals_t* release_sink (fuse_thread_t *ft) {
  if (ft->release_sink != NULL) return (fuse_thread_locals_t *) ft->release_sink;
  fuse_thread_locals_t *l = new_thread_locals(ft);
  if (l == NULL) return NULL;
  uv_sem_init(&(l->sem), 0);
  l->fuse = ft;
  ft->release_sink = l;
  return l;
}

static void fuse_native_drain_releases (uv_async_t *handle) {
  fuse_thread_t *ft = (fuse_thread_t *) handle->data;
  // Without the struct (JavaScript could not make it) they wait for the next wake-up.
  fuse_thread_locals_t *sink = release_sink(ft);
  if (sink == NULL) return;
  // Not ft->mut: a new libfuse thread holds that while it waits for this thread.
  uv_mutex_lock(&(ft->release_mut));
  queued_release_t *r = (queued_release_t *) ft->releases;
  ft->releases = NULL;
  uv_mutex_unlock(&(ft->release_mut));
  queued_release_t *fifo = NULL;
  while (r != NULL) {
    queued_release_t *next = r->next;
    r->next = fifo;
    fifo = r;
    r = next;
  }
  // Signals from earlier releases: nobody waits for them.
  while (uv_sem_trywait(&(sink->sem)) == 0) {}
  while (fifo != NULL) {
    queued_release_t *next = fifo->next;
    FUSE_NATIVE_CALLBACK(ft->handlers[op_release], {
      napi_value argv[4];
      napi_get_reference_value(env, sink->self, &(argv[0]));
      napi_create_uint32(env, op_release, &(argv[1]));
      napi_create_string_utf8(env, fifo->path, NAPI_AUTO_LENGTH, &(argv[2]));
      napi_create_uint32(env, (uint32_t) fifo->fh, &(argv[3]));
      NAPI_MAKE_CALLBACK(env, NULL, ctx, callback, 4, argv, NULL)
    })
    free(fifo);
    fifo = next;
  }
}

NAPI_METHOD(fuse_native_mount) {`, 'queued releases');
  // A thread's struct and the release queue's are made alike: one helper.
  c = edit(c, `static void fuse_native_async_init (uv_async_t* handle) {
  fuse_thread_t *ft = (fuse_thread_t *) handle->data;
  fuse_thread_locals_t *l;

  FUSE_NATIVE_CALLBACK(ft->malloc, {
    napi_value argv[1];
    napi_create_uint32(ft->env, (uint32_t) sizeof(fuse_thread_locals_t), &(argv[0]));

    napi_value buf;
    NAPI_MAKE_CALLBACK(ft->env, NULL, ctx, callback, 1, argv, &buf);

    size_t l_len;

    napi_get_buffer_info(env, buf, (void **) &l, &l_len);
    napi_create_reference(env, buf, 1, &(l->self));
  })
`, `// A per-thread struct in a Buffer that JavaScript allocates and keeps, or NULL.
static fuse_thread_locals_t* new_thread_locals (fuse_thread_t *ft) {
  fuse_thread_locals_t *l = NULL;
  FUSE_NATIVE_CALLBACK(ft->malloc, {
    napi_value argv[1];
    napi_create_uint32(ft->env, (uint32_t) sizeof(fuse_thread_locals_t), &(argv[0]));
    napi_value buf = NULL;
    NAPI_MAKE_CALLBACK(ft->env, NULL, ctx, callback, 1, argv, &buf);
    size_t l_len;
    if (napi_get_buffer_info(env, buf, (void **) &l, &l_len) != napi_ok) l = NULL;
    if (l != NULL) napi_create_reference(env, buf, 1, &(l->self));
  })
  return l;
}

static void fuse_native_async_init (uv_async_t* handle) {
  fuse_thread_t *ft = (fuse_thread_t *) handle->data;
  fuse_thread_locals_t *l = new_thread_locals(ft);
`, 'one helper makes per-thread structs');
  c = edit(c, '  if (implemented[op_release]) ops.release = fuse_native_release;\n',
    '  if (implemented[op_release]) ops.release = fuse_native_release_queued;\n', 'release through the queue');
  c = edit(c, '  int err = uv_async_init(uv_default_loop(), &(ft->async), (uv_async_cb) fuse_native_async_init);\n',
    `  int err = uv_async_init(uv_default_loop(), &(ft->async), (uv_async_cb) fuse_native_async_init);
  uv_mutex_init(&(ft->release_mut));
  ft->releases = NULL;
  ft->release_sink = NULL;
  if (err >= 0) err = uv_async_init(uv_default_loop(), &(ft->release_async), (uv_async_cb) fuse_native_drain_releases);
  ft->release_async.data = ft;
  uv_unref((uv_handle_t *) &(ft->release_async));
`, 'the release queue\'s wake-up');
  c = `${MARK_FIFTH}\n${c}`;
}
if (!c.includes(MARK_SIXTH)) {
  // A FLUSH while no handle on the mount has been written through since its
  // own last FLUSH reached JavaScript has nothing to commit (only writes leave
  // anything pending in the shim), so the binding answers it itself. Any
  // written handle, not just this one, sends every FLUSH through: a shared
  // mmap's pages may come back through another handle of the same file.
  c = edit(c, '  void *releases;\n  void *release_sink;\n',
    '  void *releases;\n  void *release_sink;\n  uv_mutex_t written_mut;\n  uint64_t *written;\n  size_t written_count;\n  size_t written_cap;\n  int written_overflow;\n',
    'the written handles in the mount');
  c = edit(c, 'static pthread_key_t thread_locals_key;\nstatic fuse_thread_locals_t* get_thread_locals();\n',
    `static pthread_key_t thread_locals_key;
static fuse_thread_locals_t* get_thread_locals();

// The handles written through since their last FLUSH reached JavaScript.
static void written_add (fuse_thread_t *ft, uint64_t fh) {
  uv_mutex_lock(&(ft->written_mut));
  size_t i = 0;
  while (i < ft->written_count && ft->written[i] != fh) i++;
  if (i == ft->written_count) {
    if (ft->written_count == ft->written_cap) {
      size_t cap = ft->written_cap ? 2 * ft->written_cap : 64;
      uint64_t *grown = (uint64_t *) realloc(ft->written, cap * sizeof(uint64_t));
      if (grown == NULL) {
        ft->written_overflow = 1;
        uv_mutex_unlock(&(ft->written_mut));
        return;
      }
      ft->written = grown;
      ft->written_cap = cap;
    }
    ft->written[ft->written_count++] = fh;
  }
  uv_mutex_unlock(&(ft->written_mut));
}

// Forgets fh; answers whether no handle had been written through at all.
static int written_none_forgetting (fuse_thread_t *ft, uint64_t fh) {
  uv_mutex_lock(&(ft->written_mut));
  int none = ft->written_count == 0 && !ft->written_overflow;
  for (size_t i = 0; i < ft->written_count; i++) {
    if (ft->written[i] == fh) {
      ft->written[i] = ft->written[--ft->written_count];
      break;
    }
  }
  uv_mutex_unlock(&(ft->written_mut));
  return none;
}
`, 'written-handle set');
  c = edit(c,
    'FUSE_METHOD(write, 6, 2, (const char *path, const char *buf, size_t len, off_t offset, struct fuse_file_info *info), {\n',
    'FUSE_METHOD(write, 6, 2, (const char *path, const char *buf, size_t len, off_t offset, struct fuse_file_info *info), {\n  if (info != NULL) written_add((fuse_thread_t *) fuse_get_context()->private_data, info->fh);\n',
    'a write marks its handle');
  c = edit(c,
    'FUSE_METHOD_VOID(flush, 2, 0, (const char *path, struct fuse_file_info *info), {\n',
    `FUSE_METHOD_VOID(flush, 2, 0, (const char *path, struct fuse_file_info *info), {
  // Mailbox handles (bit 30) always go through: theirs is not the shim's flush.
  if (info != NULL && written_none_forgetting((fuse_thread_t *) fuse_get_context()->private_data, info->fh) && !(info->fh & 0x40000000)) return 0;
`, 'flush with nothing written answers from C');
  c = edit(c, '  r->fh = info != NULL ? info->fh : 0;\n',
    '  r->fh = info != NULL ? info->fh : 0;\n  written_none_forgetting(ft, r->fh);\n', 'a released handle is forgotten');
  c = edit(c, '  uv_mutex_init(&(ft->release_mut));\n',
    '  uv_mutex_init(&(ft->release_mut));\n  uv_mutex_init(&(ft->written_mut));\n  ft->written = NULL;\n  ft->written_count = 0;\n  ft->written_cap = 0;\n  ft->written_overflow = 0;\n',
    'the written set starts empty');
  c = `${MARK_SIXTH}\n${c}`;
}
if (!c.includes(MARK_SEVENTH)) {
  // A write is answered as soon as the binding has copied it into the queue
  // of edit 5, behind the releases and writes answered before it, instead of
  // after a round trip through JavaScript (a write is most of the requests of
  // a small random writer). JavaScript applies the queue, in order, before it
  // handles any request it is handed afterwards, so nothing the kernel sends
  // after a write's answer can overtake it, and a release never overtakes its
  // handle's writes. The shim reports a queued write's failure at the
  // handle's next flush or fsync. Bytes queued and not yet applied are
  // bounded: past the bound, and for mailbox handles and writes that end
  // beyond the shim's largest file, a write waits for JavaScript as before.
  c = edit(c, '  void *releases;\n  void *release_sink;\n',
    '  void *releases;\n  void *release_sink;\n  size_t queued_write_bytes;\n', 'queued write bytes in the mount');
  c = edit(c, 'typedef struct queued_release {\n  struct queued_release *next;\n  uint64_t fh;\n',
    'typedef struct queued_release {\n  struct queued_release *next;\n  uint64_t fh;\n  uint32_t op;\n  off_t offset;\n  size_t len;\n  char *data;\n',
    'a queued request may be a write');
  c = edit(c, '  r->fh = info != NULL ? info->fh : 0;\n',
    '  r->op = op_release;\n  r->fh = info != NULL ? info->fh : 0;\n', 'a queued release says so');
  c = edit(c, 'static int fuse_native_release_queued (const char *path, struct fuse_file_info *info) {\n',
    `#define QUEUED_WRITE_BYTES_MAX (32 << 20)

// Queues r for JavaScript and wakes it. A write's bytes must fit under the
// bound; if they do not, nothing is queued and the caller answers otherwise.
static int queue_push (fuse_thread_t *ft, queued_release_t *r, size_t write_bytes) {
  uv_mutex_lock(&(ft->release_mut));
  int room = ft->queued_write_bytes + write_bytes <= QUEUED_WRITE_BYTES_MAX;
  if (room) {
    ft->queued_write_bytes += write_bytes;
    r->next = (queued_release_t *) ft->releases;
    ft->releases = r;
  }
  uv_mutex_unlock(&(ft->release_mut));
  if (room) uv_async_send(&(ft->release_async));
  return room;
}

static int fuse_native_release_queued (const char *path, struct fuse_file_info *info) {
`, 'one way onto the queue');
  c = edit(c, `  memcpy(r->path, path, n);
  uv_mutex_lock(&(ft->release_mut));
  r->next = (queued_release_t *) ft->releases;
  ft->releases = r;
  uv_mutex_unlock(&(ft->release_mut));
  uv_async_send(&(ft->release_async));
  return 0;
`, `  memcpy(r->path, path, n);
  queue_push(ft, r, 0);
  return 0;
`, 'a release goes onto the queue through it');
  c = edit(c, `static void fuse_native_drain_releases (uv_async_t *handle) {
  fuse_thread_t *ft = (fuse_thread_t *) handle->data;
`, `static void fuse_native_drain_queue (fuse_thread_t *ft) {
`, 'the queue drains for any wake-up');
  c = edit(c, `    queued_release_t *next = fifo->next;
    FUSE_NATIVE_CALLBACK(ft->handlers[op_release], {
`, `    queued_release_t *next = fifo->next;
    if (fifo->op == op_write) {
      FUSE_NATIVE_CALLBACK(ft->handlers[op_write], {
        napi_value argv[9];
        napi_get_reference_value(env, sink->self, &(argv[0]));
        napi_create_uint32(env, op_write, &(argv[1]));
        napi_create_string_utf8(env, fifo->path, NAPI_AUTO_LENGTH, &(argv[2]));
        napi_create_uint32(env, (uint32_t) fifo->fh, &(argv[3]));
        napi_create_buffer_copy(env, fifo->len, fifo->data, NULL, &(argv[4]));
        napi_create_uint32(env, (uint32_t) fifo->len, &(argv[5]));
        FUSE_UINT64_TO_INTS_ARGV(fifo->offset, 6)
        napi_get_boolean(env, true, &(argv[8]));
        NAPI_MAKE_CALLBACK(env, NULL, ctx, callback, 9, argv, NULL)
      })
      free(fifo);
      fifo = next;
      continue;
    }
    FUSE_NATIVE_CALLBACK(ft->handlers[op_release], {
`, 'queued writes go to the write handler, marked queued');
  c = edit(c, 'NAPI_METHOD(fuse_native_mount) {', `static void fuse_native_drain_releases (uv_async_t *handle) {
  fuse_native_drain_queue((fuse_thread_t *) handle->data);
}

// The shim's largest file (2^44 bytes): a write past it fails, and says so itself.
#define QUEUED_WRITE_END_MAX ((off_t) 1 << 44)

static int fuse_native_write_queued (const char *path, const char *buf, size_t len, off_t offset, struct fuse_file_info *info) {
  fuse_thread_t *ft = (fuse_thread_t *) fuse_get_context()->private_data;
  if (info == NULL || (info->fh & 0x40000000) || offset < 0 || offset + (off_t) len > QUEUED_WRITE_END_MAX) {
    return fuse_native_write(path, buf, len, offset, info);
  }
  size_t n = strlen(path) + 1;
  queued_release_t *r = (queued_release_t *) malloc(sizeof(queued_release_t) + n + len);
  if (r == NULL) return fuse_native_write(path, buf, len, offset, info);
  r->op = op_write;
  r->fh = info->fh;
  r->offset = offset;
  r->len = len;
  memcpy(r->path, path, n);
  r->data = r->path + n;
  memcpy(r->data, buf, len);
  // Marked written before the kernel hears of it, so the FLUSH after it goes through.
  written_add(ft, info->fh);
  if (!queue_push(ft, r, len)) {
    free(r);
    return fuse_native_write(path, buf, len, offset, info);
  }
  return (int) len;
}

NAPI_METHOD(fuse_native_mount) {`, 'writes through the queue');
  // A queued write's handler signals the queue's struct with the byte count
  // it was given: those bytes no longer count against the bound.
  c = editBetween(c, 'FUSE_METHOD(write, 6, 2,', 'FUSE_METHOD(readdir',
    '  if (IS_ARRAY_BUFFER_DETACH_SUPPORTED == 1) assert(napi_detach_arraybuffer(env, argv[3]) == napi_ok);\n',
    `  if (IS_ARRAY_BUFFER_DETACH_SUPPORTED == 1) assert(napi_detach_arraybuffer(env, argv[3]) == napi_ok);
  if (l->fuse != NULL && (void *) l == l->fuse->release_sink) {
    uint32_t applied = 0;
    napi_get_value_uint32(env, argv[2], &applied);
    uv_mutex_lock(&(l->fuse->release_mut));
    l->fuse->queued_write_bytes -= applied <= l->fuse->queued_write_bytes ? applied : l->fuse->queued_write_bytes;
    uv_mutex_unlock(&(l->fuse->release_mut));
  }
`, 'an applied queued write frees its bytes');
  c = edit(c, `static void fuse_native_dispatch (uv_async_t* handle) {
  fuse_thread_locals_t *l = (fuse_thread_locals_t *) handle->data;
  fuse_thread_t *ft = l->fuse;
  void (*fn)(uv_async_t *, fuse_thread_locals_t *, fuse_thread_t *) = l->op_fn;

  fn(handle, l, ft);
`, `static void fuse_native_drain_queue (fuse_thread_t *ft);

static void fuse_native_dispatch (uv_async_t* handle) {
  fuse_thread_locals_t *l = (fuse_thread_locals_t *) handle->data;
  fuse_thread_t *ft = l->fuse;
  void (*fn)(uv_async_t *, fuse_thread_locals_t *, fuse_thread_t *) = l->op_fn;

  // What was answered before this request was sent reaches JavaScript first.
  fuse_native_drain_queue(ft);
  fn(handle, l, ft);
`, 'every request drains the queue first');
  c = edit(c, '  if (implemented[op_write]) ops.write = fuse_native_write;\n',
    '  if (implemented[op_write]) ops.write = fuse_native_write_queued;\n', 'writes through the queue');
  c = edit(c, '  ft->releases = NULL;\n  ft->release_sink = NULL;\n',
    '  ft->releases = NULL;\n  ft->release_sink = NULL;\n  ft->queued_write_bytes = 0;\n', 'nothing queued at mount');
  c = `${MARK_SEVENTH}\n${c}`;
}
if (!c.includes(MARK_EIGHTH)) {
  // The queue's struct is made by the first request handed to JavaScript.
  // Without it a drain hands nothing over, so a queued write could be
  // overtaken by what follows it: until then a write waits for JavaScript.
  c = edit(c,
    '  if (info == NULL || (info->fh & 0x40000000) || offset < 0 || offset + (off_t) len > QUEUED_WRITE_END_MAX) {\n',
    '  if (ft->release_sink == NULL || info == NULL || (info->fh & 0x40000000) || offset < 0 || offset + (off_t) len > QUEUED_WRITE_END_MAX) {\n',
    'no queued write before the queue\'s struct exists');
  c = `${MARK_EIGHTH}\n${c}`;
}
if (!c.includes(MARK_NINTH)) {
  c = edit(c, 'FUSE_METHOD(create, 2, 2,', 'FUSE_METHOD(create, 3, 2,', 'create takes a third argument');
  c = editBetween(c, 'FUSE_METHOD(create, 3, 2,', 'FUSE_METHOD_VOID(utimens,',
    '  napi_create_uint32(env, l->mode, &(argv[3]));\n}, {\n',
    '  napi_create_uint32(env, l->mode, &(argv[3]));\n  napi_create_uint32(env, l->info != NULL ? l->info->flags : 0, &(argv[4]));\n}, {\n',
    'create passes its open flags');
  c = `${MARK_NINTH}\n${c}`;
}
if (!c.includes(MARK_TENTH)) {
  // With use_ino, st_ino is the filesystem's own. fuse-native carries it in
  // 32 bits; the high word now travels in the st_dev slot, which the kernel
  // ignores for FUSE (it sets st_dev itself).
  c = edit(c,
    '  stat->st_dev = *ints++;\n  stat->st_nlink = *ints++;\n  stat->st_ino = *ints++;\n',
    '  uint64_t ino_high = *ints++;\n  stat->st_dev = 0;\n  stat->st_nlink = *ints++;\n  stat->st_ino = (ino_high << 32) | *ints++;\n',
    'inode numbers in 64 bits');
  c = `${MARK_TENTH}\n${c}`;
}
writeFileSync(cPath, c);

const gypPath = join(pkgDir, 'binding.gyp');
const gyp = readFileSync(gypPath, 'utf8');
if (!gyp.includes('pkg-config')) {
  const systemGyp = {
    targets: [{
      target_name: 'fuse',
      include_dirs: ["<!(node -e \"require('napi-macros')\")"],
      cflags: ['<!@(pkg-config --cflags fuse)', '-O2', '-Wall'],
      libraries: ['<!@(pkg-config --libs fuse)'],
      sources: ['fuse-native.c'],
    }],
  };
  writeFileSync(gypPath, JSON.stringify(systemGyp, null, 2));
}

const built = join(pkgDir, 'build', 'Release', 'fuse.node');
const stamp = join(pkgDir, 'build', 'dbos-system-libfuse-10');
if (!existsSync(built) || !existsSync(stamp)) {
  const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
  // Build against the headers of the Node.js that runs us (Debian's nodejs
  // ships them under /usr/include/node); node-gyp would otherwise download them.
  const nodedir = process.env.npm_config_nodedir
    || (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
  const args = [nodeGyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  execFileSync(process.execPath, args, { cwd: pkgDir, stdio: ['ignore', 'ignore', 'inherit'] });
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}
// node-gyp-build loads build/Release before prebuilds/, so the bundled
// binary and its libfuse.so are never used.
console.log(`build-fuse-native: ${built} (system libfuse2)`);
