// dbos's FUSE binding: libfuse 2's low-level API, served to JavaScript.
//
// One thread reads /dev/fuse (fuse_session_loop) and puts each request on one
// queue; a single uv_async wake-up lets JavaScript take every request queued
// so far, in order. JavaScript answers with the reply functions below, from
// its own thread: no libfuse thread sleeps waiting for JavaScript, so an
// answer wakes nobody but the process that made the request. (fuse-native,
// over libfuse's path API, made a worker thread wait for each answer: two
// thread switches per request, which cost more than dbos's own work on small
// operations.)
//
// Answered here, without JavaScript:
//  - WRITE, while the bytes queued and not yet applied stay under a bound: it
//    is queued for JavaScript behind everything received before it, so nothing
//    the kernel sends after the answer can overtake it;
//  - RELEASE, RELEASEDIR and FORGET, which the kernel never waits for (queued
//    for JavaScript all the same);
//  - FLUSH, while no handle on the mount has been written through since its
//    last FLUSH reached JavaScript (only writes leave anything to commit);
//  - OPENDIR, and GETXATTR of security.capability (the kernel asks before every
//    write; dbos keeps no file capabilities).
// Names and paths are JavaScript's (fs/fuse/native.ts): this file knows only
// node ids and handles.
#define FUSE_USE_VERSION 26
#define _GNU_SOURCE
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <uv.h>
#include <pthread.h>
#include <fcntl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// Request kinds, as fs/fuse/native.ts numbers them.
enum {
  OP_LOOKUP, OP_FORGET, OP_GETATTR, OP_SETATTR, OP_READLINK, OP_MKNOD, OP_MKDIR, OP_UNLINK, OP_RMDIR,
  OP_SYMLINK, OP_RENAME, OP_LINK, OP_OPEN, OP_READ, OP_WRITE, OP_FLUSH, OP_RELEASE, OP_FSYNC,
  OP_READDIR, OP_RELEASEDIR, OP_FSYNCDIR, OP_STATFS, OP_SETXATTR, OP_GETXATTR, OP_LISTXATTR,
  OP_REMOVEXATTR, OP_CREATE, OP_INIT, OP_DESTROY,
};

// The numbers of a request, in the order JavaScript reads them from its Float64Array.
enum {
  N_ID, N_OP, N_INO, N_FH, N_UID, N_GID, N_PID, N_SIZE, N_OFF, N_FLAGS, N_MODE, N_RDEV, N_INO2, N_TO_SET,
  N_A_SEC, N_A_NSEC, N_M_SEC, N_M_NSEC, N_A_UID, N_A_GID, N_A_MODE, N_HAS_FH, N_COUNT
};

// A stat as JavaScript hands it over (its Float64Array, same order).
enum { ST_INO, ST_MODE, ST_NLINK, ST_UID, ST_GID, ST_RDEV, ST_SIZE, ST_BLKSIZE, ST_BLOCKS, ST_A_SEC, ST_A_NSEC, ST_M_SEC, ST_M_NSEC, ST_C_SEC, ST_C_NSEC, ST_COUNT };

/** A handle with this bit asks for direct_io (the mailbox files: queues, not files). */
#define DIRECT_IO_HANDLE 0x40000000ULL
/** Bytes answered and queued but not yet applied by JavaScript: past this a write waits for JavaScript. */
#define QUEUED_WRITE_BYTES_MAX ((size_t) 32 << 20)
/** The shim's largest file (2^44 bytes): a write past it must fail, so JavaScript answers it. */
#define QUEUED_WRITE_END_MAX ((off_t) 1 << 44)

typedef struct request {
  struct request *next;
  fuse_req_t req;        // NULL once answered here
  double n[N_COUNT];
  char *name;            // lookup/create/... name, xattr name
  char *name2;           // rename's new name, symlink's target, link's new name
  char *data;            // write bytes, setxattr value
  size_t data_len;
  char buf[];            // name, name2 and data live here
} request_t;

static struct {
  struct fuse_session *se;
  struct fuse_chan *ch;
  char *mountpoint;
  pthread_t thread;
  int session_ended;     // set by the session thread, read atomically
  uv_async_t *wake;
  pthread_mutex_t mut;
  request_t *head, *tail;
  size_t queued_write_bytes;
  // Requests the kernel waits for that JavaScript has not answered yet: the
  // session is freed only when none is left (each names it).
  long outstanding;
  // Handles written through since their last FLUSH reached JavaScript.
  uint64_t *written;
  size_t written_count, written_cap;
  int written_overflow;
  napi_env env;
  napi_ref handler, nums, stat;
  double *nums_data, *stat_data;
} b = { .mut = PTHREAD_MUTEX_INITIALIZER };

// ---- the queue ----------------------------------------------------------------

static request_t *new_request(fuse_req_t req, int op, fuse_ino_t ino, const char *name, const char *name2, const char *data, size_t data_len) {
  size_t nl = name ? strlen(name) + 1 : 0, n2l = name2 ? strlen(name2) + 1 : 0;
  request_t *r = calloc(1, sizeof(request_t) + nl + n2l + data_len);
  if (!r) return NULL;
  char *p = r->buf;
  if (name) { r->name = p; memcpy(p, name, nl); p += nl; }
  if (name2) { r->name2 = p; memcpy(p, name2, n2l); p += n2l; }
  if (data) { r->data = p; memcpy(p, data, data_len); r->data_len = data_len; }
  r->req = req;
  if (req) __atomic_add_fetch(&b.outstanding, 1, __ATOMIC_RELAXED);
  r->n[N_OP] = op;
  r->n[N_INO] = (double) ino;
  if (req) {
    const struct fuse_ctx *c = fuse_req_ctx(req);
    r->n[N_UID] = c->uid; r->n[N_GID] = c->gid; r->n[N_PID] = c->pid;
  }
  return r;
}

/** Queues r for JavaScript; false (and nothing queued) if its write bytes would pass the bound. */
static int push(request_t *r, size_t write_bytes) {
  pthread_mutex_lock(&b.mut);
  if (write_bytes && b.queued_write_bytes + write_bytes > QUEUED_WRITE_BYTES_MAX) {
    pthread_mutex_unlock(&b.mut);
    return 0;
  }
  b.queued_write_bytes += write_bytes;
  int was_empty = b.head == NULL;
  if (b.tail) b.tail->next = r; else b.head = r;
  b.tail = r;
  pthread_mutex_unlock(&b.mut);
  if (was_empty) uv_async_send(b.wake);
  return 1;
}

static void queue(request_t *r) {
  if (!r) return;
  push(r, 0);
}

static void written_add(uint64_t fh) {
  pthread_mutex_lock(&b.mut);
  size_t i = 0;
  while (i < b.written_count && b.written[i] != fh) i++;
  if (i == b.written_count) {
    if (b.written_count == b.written_cap) {
      size_t cap = b.written_cap ? 2 * b.written_cap : 64;
      uint64_t *grown = realloc(b.written, cap * sizeof(uint64_t));
      if (!grown) { b.written_overflow = 1; pthread_mutex_unlock(&b.mut); return; }
      b.written = grown;
      b.written_cap = cap;
    }
    b.written[b.written_count++] = fh;
  }
  pthread_mutex_unlock(&b.mut);
}

/** Forgets fh; answers whether no handle at all had been written through. */
static int written_none_forgetting(uint64_t fh) {
  pthread_mutex_lock(&b.mut);
  int none = b.written_count == 0 && !b.written_overflow;
  for (size_t i = 0; i < b.written_count; i++) {
    if (b.written[i] == fh) { b.written[i] = b.written[--b.written_count]; break; }
  }
  pthread_mutex_unlock(&b.mut);
  return none;
}

// ---- requests from the kernel (the session thread) ---------------------------

static void fh_of(request_t *r, struct fuse_file_info *fi) {
  if (fi) { r->n[N_FH] = (double) fi->fh; r->n[N_HAS_FH] = 1; r->n[N_FLAGS] = fi->flags; }
}

static request_t *req_or_fail(fuse_req_t req, int op, fuse_ino_t ino, const char *name, const char *name2) {
  request_t *r = new_request(req, op, ino, name, name2, NULL, 0);
  if (!r) fuse_reply_err(req, ENOMEM);
  return r;
}

/** Queues a request on an open handle; size and off mean what the request's kind says. */
static void queue_on_handle(fuse_req_t req, int op, fuse_ino_t ino, struct fuse_file_info *fi, double size, double off) {
  request_t *r = req_or_fail(req, op, ino, NULL, NULL);
  if (r) { fh_of(r, fi); r->n[N_SIZE] = size; r->n[N_OFF] = off; queue(r); }
}

/** Answers a request nobody waits for (the kernel never does for a release) and queues it for JavaScript. */
static void answer_and_queue(fuse_req_t req, int op, fuse_ino_t ino, struct fuse_file_info *fi) {
  request_t *r = new_request(NULL, op, ino, NULL, NULL, NULL, 0);
  if (r) { fh_of(r, fi); queue(r); }
  fuse_reply_err(req, 0);
}

static void ll_init(void *userdata, struct fuse_conn_info *conn) { (void) userdata; (void) conn; }

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  queue(req_or_fail(req, OP_LOOKUP, parent, name, NULL));
}

static void ll_forget(fuse_req_t req, fuse_ino_t ino, unsigned long nlookup) {
  request_t *r = new_request(NULL, OP_FORGET, ino, NULL, NULL, NULL, 0);
  if (r) { r->n[N_SIZE] = (double) nlookup; queue(r); }
  fuse_reply_none(req);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  request_t *r = req_or_fail(req, OP_GETATTR, ino, NULL, NULL);
  if (r) { fh_of(r, fi); queue(r); }
}

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  request_t *r = req_or_fail(req, OP_SETATTR, ino, NULL, NULL);
  if (!r) return;
  fh_of(r, fi);
  r->n[N_TO_SET] = to_set;
  r->n[N_SIZE] = (double) attr->st_size;
  r->n[N_A_MODE] = attr->st_mode;
  r->n[N_A_UID] = attr->st_uid;
  r->n[N_A_GID] = attr->st_gid;
  r->n[N_A_SEC] = (double) attr->st_atim.tv_sec; r->n[N_A_NSEC] = attr->st_atim.tv_nsec;
  r->n[N_M_SEC] = (double) attr->st_mtim.tv_sec; r->n[N_M_NSEC] = attr->st_mtim.tv_nsec;
  queue(r);
}

static void ll_readlink(fuse_req_t req, fuse_ino_t ino) { queue(req_or_fail(req, OP_READLINK, ino, NULL, NULL)); }

static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  request_t *r = req_or_fail(req, OP_MKNOD, parent, name, NULL);
  if (r) { r->n[N_MODE] = mode; r->n[N_RDEV] = (double) rdev; queue(r); }
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  request_t *r = req_or_fail(req, OP_MKDIR, parent, name, NULL);
  if (r) { r->n[N_MODE] = mode; queue(r); }
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) { queue(req_or_fail(req, OP_UNLINK, parent, name, NULL)); }
static void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) { queue(req_or_fail(req, OP_RMDIR, parent, name, NULL)); }

static void ll_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name) {
  queue(req_or_fail(req, OP_SYMLINK, parent, name, target));
}

static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname) {
  request_t *r = req_or_fail(req, OP_RENAME, parent, name, newname);
  if (r) { r->n[N_INO2] = (double) newparent; queue(r); }
}

static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  request_t *r = req_or_fail(req, OP_LINK, ino, NULL, newname);
  if (r) { r->n[N_INO2] = (double) newparent; queue(r); }
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  request_t *r = req_or_fail(req, OP_OPEN, ino, NULL, NULL);
  if (r) { r->n[N_FLAGS] = fi->flags; queue(r); }
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  queue_on_handle(req, OP_READ, ino, fi, (double) size, (double) off);
}

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  request_t *r = new_request(req, OP_WRITE, ino, NULL, NULL, buf, size);
  if (!r) { fuse_reply_err(req, ENOMEM); return; }
  fh_of(r, fi);
  r->n[N_SIZE] = (double) size;
  r->n[N_OFF] = (double) off;
  // Marked written before the kernel hears of it, so the FLUSH after it goes through.
  written_add(fi->fh);
  int answerable = !(fi->fh & DIRECT_IO_HANDLE) && off >= 0 && off + (off_t) size <= QUEUED_WRITE_END_MAX;
  if (answerable) {
    // Marked answered before JavaScript can see it; r is JavaScript's once pushed.
    r->req = NULL;
    if (push(r, size)) {
      fuse_reply_write(req, size);
      __atomic_sub_fetch(&b.outstanding, 1, __ATOMIC_RELAXED);
      return;
    }
    r->req = req;
  }
  queue(r);
}

static void ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  // Mailbox handles always go through: theirs is not the shim's flush.
  if (written_none_forgetting(fi->fh) && !(fi->fh & DIRECT_IO_HANDLE)) { fuse_reply_err(req, 0); return; }
  queue_on_handle(req, OP_FLUSH, ino, fi, 0, 0);
}

static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  written_none_forgetting(fi->fh);
  answer_and_queue(req, OP_RELEASE, ino, fi);
}

static void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  queue_on_handle(req, OP_FSYNC, ino, fi, datasync, 0);
}

static uint64_t next_dir_handle = 1;

static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void) ino;
  fi->fh = __atomic_fetch_add(&next_dir_handle, 1, __ATOMIC_RELAXED);
  fuse_reply_open(req, fi);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  queue_on_handle(req, OP_READDIR, ino, fi, (double) size, (double) off);
}

static void ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  answer_and_queue(req, OP_RELEASEDIR, ino, fi);
}

static void ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  queue_on_handle(req, OP_FSYNCDIR, ino, fi, datasync, 0);
}

static void ll_statfs(fuse_req_t req, fuse_ino_t ino) { queue(req_or_fail(req, OP_STATFS, ino, NULL, NULL)); }

static void ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags) {
  request_t *r = new_request(req, OP_SETXATTR, ino, name, NULL, value, size);
  if (!r) { fuse_reply_err(req, ENOMEM); return; }
  r->n[N_SIZE] = (double) size;
  r->n[N_FLAGS] = flags;
  queue(r);
}

static void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  if (strcmp(name, "security.capability") == 0) { fuse_reply_err(req, ENODATA); return; }
  request_t *r = req_or_fail(req, OP_GETXATTR, ino, name, NULL);
  if (r) { r->n[N_SIZE] = (double) size; queue(r); }
}

static void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  request_t *r = req_or_fail(req, OP_LISTXATTR, ino, NULL, NULL);
  if (r) { r->n[N_SIZE] = (double) size; queue(r); }
}

static void ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) { queue(req_or_fail(req, OP_REMOVEXATTR, ino, name, NULL)); }

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  request_t *r = req_or_fail(req, OP_CREATE, parent, name, NULL);
  if (r) { r->n[N_MODE] = mode; r->n[N_FLAGS] = fi->flags; queue(r); }
}

static const struct fuse_lowlevel_ops ops = {
  .init = ll_init, .lookup = ll_lookup, .forget = ll_forget, .getattr = ll_getattr, .setattr = ll_setattr,
  .readlink = ll_readlink, .mknod = ll_mknod, .mkdir = ll_mkdir, .unlink = ll_unlink, .rmdir = ll_rmdir,
  .symlink = ll_symlink, .rename = ll_rename, .link = ll_link, .open = ll_open, .read = ll_read,
  .write = ll_write, .flush = ll_flush, .release = ll_release, .fsync = ll_fsync, .opendir = ll_opendir,
  .readdir = ll_readdir, .releasedir = ll_releasedir, .fsyncdir = ll_fsyncdir, .statfs = ll_statfs,
  .setxattr = ll_setxattr, .getxattr = ll_getxattr, .listxattr = ll_listxattr, .removexattr = ll_removexattr,
  .create = ll_create,
};

// ---- JavaScript's side (its thread) -----------------------------------------

/** Hands every queued request to JavaScript's handler(name, name2, data), its numbers in the shared array. */
static void drain(uv_async_t *handle) {
  (void) handle;
  napi_env env = b.env;
  // The mount is gone: it no longer keeps the process alive.
  if (__atomic_load_n(&b.session_ended, __ATOMIC_ACQUIRE)) uv_unref((uv_handle_t *) b.wake);
  pthread_mutex_lock(&b.mut);
  request_t *r = b.head;
  b.head = b.tail = NULL;
  pthread_mutex_unlock(&b.mut);
  if (!r) return;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn, global, undef;
  napi_get_reference_value(env, b.handler, &fn);
  napi_get_global(env, &global);
  napi_get_undefined(env, &undef);
  while (r) {
    request_t *next = r->next;
    // An answered request has id 0; JavaScript reports an answered write's bytes with writeApplied().
    int answered = r->req == NULL;
    r->n[N_ID] = answered ? 0 : (double) (uintptr_t) r;
    memcpy(b.nums_data, r->n, sizeof r->n);
    napi_value argv[3] = { undef, undef, undef };
    if (r->name) napi_create_string_utf8(env, r->name, NAPI_AUTO_LENGTH, &argv[0]);
    if (r->name2) napi_create_string_utf8(env, r->name2, NAPI_AUTO_LENGTH, &argv[1]);
    if (r->data) napi_create_buffer_copy(env, r->data_len, r->data, NULL, &argv[2]);
    napi_value result;
    napi_make_callback(env, NULL, global, fn, 3, argv, &result);
    if (answered) free(r);
    r = next;
  }
  napi_close_handle_scope(env, scope);
}

#define ARGS(n) size_t argc = n; napi_value a[n]; napi_get_cb_info(env, info, &argc, a, NULL, NULL)

static double num(napi_env env, napi_value v) { double d = 0; napi_get_value_double(env, v, &d); return d; }

/** The request an id names; the id is JavaScript's, which answers each request once. */
static request_t *take(napi_env env, napi_value v) { return (request_t *) (uintptr_t) num(env, v); }

static void finish(request_t *r) {
  __atomic_sub_fetch(&b.outstanding, 1, __ATOMIC_RELAXED);
  free(r);
}

static char *string_arg(napi_env env, napi_value v) {
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static void stat_from_js(struct stat *st) {
  const double *s = b.stat_data;
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t) s[ST_INO];
  st->st_mode = (mode_t) s[ST_MODE];
  st->st_nlink = (nlink_t) s[ST_NLINK];
  st->st_uid = (uid_t) s[ST_UID];
  st->st_gid = (gid_t) s[ST_GID];
  st->st_rdev = (dev_t) s[ST_RDEV];
  st->st_size = (off_t) s[ST_SIZE];
  st->st_blksize = (blksize_t) s[ST_BLKSIZE];
  st->st_blocks = (blkcnt_t) s[ST_BLOCKS];
  st->st_atim.tv_sec = (time_t) s[ST_A_SEC]; st->st_atim.tv_nsec = (long) s[ST_A_NSEC];
  st->st_mtim.tv_sec = (time_t) s[ST_M_SEC]; st->st_mtim.tv_nsec = (long) s[ST_M_NSEC];
  st->st_ctim.tv_sec = (time_t) s[ST_C_SEC]; st->st_ctim.tv_nsec = (long) s[ST_C_NSEC];
}

/**
 * A reply function: JavaScript calls it with the request's id first and the
 * answer's parts after (in a[]); it answers the kernel and frees the request.
 */
#define REPLY(name, nargs, ...) \
  static napi_value name(napi_env env, napi_callback_info info) { \
    ARGS(nargs); \
    request_t *r = take(env, a[0]); \
    if (!r) return NULL; \
    __VA_ARGS__ \
    finish(r); \
    return NULL; \
  }

static void entry_from_js(napi_env env, napi_value *a, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  e->ino = (fuse_ino_t) num(env, a[0]);
  e->attr_timeout = num(env, a[1]);
  e->entry_timeout = num(env, a[2]);
  stat_from_js(&e->attr);
}

static void open_info(napi_env env, napi_value fh, napi_value keep, struct fuse_file_info *fi) {
  memset(fi, 0, sizeof *fi);
  fi->fh = (uint64_t) num(env, fh);
  bool keep_cache = false;
  napi_get_value_bool(env, keep, &keep_cache);
  fi->keep_cache = keep_cache;
  fi->direct_io = (fi->fh & DIRECT_IO_HANDLE) != 0;
}

/** The process was interrupted before its open was answered: nobody will release the handle, so JavaScript must. */
static void release_unclaimed(fuse_ino_t ino, uint64_t fh) {
  request_t *r = new_request(NULL, OP_RELEASE, ino, NULL, NULL, NULL, 0);
  if (r) { r->n[N_FH] = (double) fh; r->n[N_HAS_FH] = 1; queue(r); }
}

// replyErr(id, errno): errno 0 is success for requests that answer nothing else.
REPLY(reply_err, 2, fuse_reply_err(r->req, (int) num(env, a[1]));)

// replyEntry(id, nodeId, attrTimeout, entryTimeout): the stat in the shared stat array.
REPLY(reply_entry, 4,
  struct fuse_entry_param e;
  entry_from_js(env, a + 1, &e);
  fuse_reply_entry(r->req, &e);)

// replyAttr(id, attrTimeout): the stat in the shared stat array.
REPLY(reply_attr, 2,
  struct stat st;
  stat_from_js(&st);
  fuse_reply_attr(r->req, &st, num(env, a[1]));)

// replyCreate(id, nodeId, attrTimeout, entryTimeout, fh, keepCache)
REPLY(reply_create, 6,
  struct fuse_entry_param e;
  entry_from_js(env, a + 1, &e);
  struct fuse_file_info fi;
  open_info(env, a[4], a[5], &fi);
  if (fuse_reply_create(r->req, &e, &fi) == -ENOENT) release_unclaimed(e.ino, fi.fh);)

// replyOpen(id, fh, keepCache)
REPLY(reply_open, 3,
  struct fuse_file_info fi;
  open_info(env, a[1], a[2], &fi);
  if (fuse_reply_open(r->req, &fi) == -ENOENT) release_unclaimed((fuse_ino_t) r->n[N_INO], fi.fh);)

// replyBuf(id, buffer, length)
REPLY(reply_buf, 3,
  void *data = NULL;
  size_t len = 0;
  napi_get_buffer_info(env, a[1], &data, &len);
  size_t n = (size_t) num(env, a[2]);
  fuse_reply_buf(r->req, data, n < len ? n : len);)

// replyWrite(id, count)
REPLY(reply_write, 2, fuse_reply_write(r->req, (size_t) num(env, a[1]));)

// replyReadlink(id, target)
REPLY(reply_readlink, 2,
  char *target = string_arg(env, a[1]);
  if (target) fuse_reply_readlink(r->req, target);
  else fuse_reply_err(r->req, ENOMEM);
  free(target);)

// replyStatfs(id, bsize, frsize, blocks, bfree, bavail, files, ffree, favail, namemax)
REPLY(reply_statfs, 10,
  struct statvfs s;
  memset(&s, 0, sizeof s);
  s.f_bsize = (unsigned long) num(env, a[1]);
  s.f_frsize = (unsigned long) num(env, a[2]);
  s.f_blocks = (fsblkcnt_t) num(env, a[3]);
  s.f_bfree = (fsblkcnt_t) num(env, a[4]);
  s.f_bavail = (fsblkcnt_t) num(env, a[5]);
  s.f_files = (fsfilcnt_t) num(env, a[6]);
  s.f_ffree = (fsfilcnt_t) num(env, a[7]);
  s.f_favail = (fsfilcnt_t) num(env, a[8]);
  s.f_namemax = (unsigned long) num(env, a[9]);
  fuse_reply_statfs(r->req, &s);)

// replyXattrSize(id, size): the answer to a getxattr or listxattr asking only for the size.
REPLY(reply_xattr_size, 2, fuse_reply_xattr(r->req, (size_t) num(env, a[1]));)

// writeApplied(bytes): a write answered here has reached the shim; its bytes no longer count.
static napi_value write_applied(napi_env env, napi_callback_info info) {
  ARGS(1);
  size_t n = (size_t) num(env, a[0]);
  pthread_mutex_lock(&b.mut);
  b.queued_write_bytes -= n <= b.queued_write_bytes ? n : b.queued_write_bytes;
  pthread_mutex_unlock(&b.mut);
  return NULL;
}

static void *session_main(void *arg) {
  (void) arg;
  fuse_session_loop(b.se);
  __atomic_store_n(&b.session_ended, 1, __ATOMIC_RELEASE);
  uv_async_send(b.wake);
  return NULL;
}


/** Whether v is a Float64Array of exactly `count` numbers (JavaScript and C must agree on the layouts). */
static int is_float64_array(napi_env env, napi_value v, size_t count) {
  bool typed = false;
  napi_is_typedarray(env, v, &typed);
  if (!typed) return 0;
  napi_typedarray_type type;
  size_t len = 0;
  napi_get_typedarray_info(env, v, &type, &len, NULL, NULL, NULL);
  return type == napi_float64_array && len == count;
}

// mount(mountpoint, options, handler, nums: Float64Array, stat: Float64Array)
static napi_value mount_fs(napi_env env, napi_callback_info info) {
  ARGS(5);
  if (b.se) { napi_throw_error(env, NULL, "this process already serves a mount"); return NULL; }
  if (!is_float64_array(env, a[3], N_COUNT) || !is_float64_array(env, a[4], ST_COUNT)) {
    napi_throw_error(env, NULL, "mount wants Float64Arrays for a request's numbers and a stat, of the sizes dbos_fuse.c uses");
    return NULL;
  }
  char *mp = string_arg(env, a[0]);
  char *opts = string_arg(env, a[1]);
  char *argv[] = { "dbos", "-o", opts, NULL };
  struct fuse_args args = FUSE_ARGS_INIT(3, argv);
  // fuse_mount takes the mount options out of args; fuse_lowlevel_new takes the rest.
  b.ch = fuse_mount(mp, &args);
  if (!b.ch) {
    fuse_opt_free_args(&args);
    free(opts);
    free(mp);
    napi_throw_error(env, NULL, "fuse_mount failed (see the message above)");
    return NULL;
  }
  // A child of the daemon must not keep the connection alive after the daemon dies.
  int fd = fuse_chan_fd(b.ch);
  fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  b.se = fuse_lowlevel_new(&args, &ops, sizeof ops, NULL);
  fuse_opt_free_args(&args);
  free(opts);
  if (!b.se) {
    fuse_unmount(mp, b.ch);
    b.ch = NULL;
    free(mp);
    napi_throw_error(env, NULL, "fuse_lowlevel_new refused the options");
    return NULL;
  }
  fuse_session_add_chan(b.se, b.ch);
  b.mountpoint = mp;
  b.env = env;
  b.session_ended = 0;
  napi_create_reference(env, a[2], 1, &b.handler);
  napi_create_reference(env, a[3], 1, &b.nums);
  napi_create_reference(env, a[4], 1, &b.stat);
  void *data;
  size_t len;
  napi_get_typedarray_info(env, a[3], NULL, &len, &data, NULL, NULL);
  b.nums_data = data;
  napi_get_typedarray_info(env, a[4], NULL, &len, &data, NULL, NULL);
  b.stat_data = data;
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  b.wake = malloc(sizeof(uv_async_t));
  // While mounted, the wake-up handle keeps the process alive, as a listening socket would.
  uv_async_init(loop, b.wake, drain);
  pthread_create(&b.thread, NULL, session_main, NULL);
  return NULL;
}

static void free_handle(uv_handle_t *h) { free(h); }

// close(): after the mount is gone (fusermount -u), ends the session and frees
// it, so that this process may mount again. Answers false while the mount is
// still there (its session thread still reading requests), or while
// JavaScript still owes an answer (its id names memory the session owns).
static napi_value close_fs(napi_env env, napi_callback_info info) {
  (void) info;
  napi_value result;
  int done = b.se == NULL
    || (__atomic_load_n(&b.session_ended, __ATOMIC_ACQUIRE) && __atomic_load_n(&b.outstanding, __ATOMIC_RELAXED) == 0);
  if (b.se && done) {
    pthread_join(b.thread, NULL);
    // What the kernel sent last and nobody waits for (forgets, releases) goes unheard.
    pthread_mutex_lock(&b.mut);
    request_t *r = b.head;
    b.head = b.tail = NULL;
    pthread_mutex_unlock(&b.mut);
    while (r) { request_t *next = r->next; free(r); r = next; }
    fuse_session_destroy(b.se);
    b.se = NULL;
    b.ch = NULL;
    free(b.mountpoint);
    b.mountpoint = NULL;
    uv_close((uv_handle_t *) b.wake, free_handle);
    b.wake = NULL;
    napi_delete_reference(env, b.handler);
    napi_delete_reference(env, b.nums);
    napi_delete_reference(env, b.stat);
    b.written_count = 0;
    b.written_overflow = 0;
    b.queued_write_bytes = 0;
  }
  napi_get_boolean(env, done, &result);
  return result;
}

#define METHOD(name, fn) { name, 0, fn, 0, 0, 0, napi_default, 0 }

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    METHOD("mount", mount_fs),
    METHOD("close", close_fs),
    METHOD("replyErr", reply_err),
    METHOD("replyEntry", reply_entry),
    METHOD("replyAttr", reply_attr),
    METHOD("replyCreate", reply_create),
    METHOD("replyOpen", reply_open),
    METHOD("replyBuf", reply_buf),
    METHOD("replyWrite", reply_write),
    METHOD("replyReadlink", reply_readlink),
    METHOD("replyStatfs", reply_statfs),
    METHOD("replyXattrSize", reply_xattr_size),
    METHOD("writeApplied", write_applied),
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
