// Mailboxes as files in the mount, for programs with no library: in
// MOUNT/.ipc there is one file per mailbox. Writing a file and closing it
// sends what was written as one message (the sender is the writer's user
// name); reading your own mailbox's file receives the next message (a read
// waits up to a minute for one), and then reads end. `.ipc` is not listed in
// the mount's root, so tree walks (cp -a, tar, rsync) never consume messages.
import { createHash } from 'node:crypto';
import { S_IFDIR, S_IFREG, type Stat } from '../fs/attrs.js';
import { FsError, fsError } from '../fs/errors.js';
import type { Identities } from '../fs/identity.js';
import type { Caller } from '../fs/permissions.js';
import type { Db } from '../schema/db.js';
import type { DbosHome } from '../schema/home.js';
import { now } from '../fs/time.js';
import { Ipc, wakeupSocket } from './client.js';
import { getMailbox, isUnknownReceiver, listMailboxes, MAX_MESSAGE_BYTES, sendMessages } from './sql.js';
import { Wakeups } from './wakeup.js';

export const IPC_DIR = '/.ipc';
/** Handles of mailbox files have bit 30 set: the FUSE binding opens them with direct_io. */
export const MAILBOX_HANDLE = 0x40000000;
const READ_WAIT_MS = 60_000;

/**
 * Inode numbers of what is not a Directory row: `.ipc` and, from 48 bits of
 * a hash of its name, each mailbox. They start at 2^52, which Directory's
 * AUTO_INCREMENT never reaches, and stay below 2^53, where JavaScript's
 * numbers stop being exact.
 */
const IPC_DIR_INO = 2 ** 52;
const mailboxIno = (name: string) => IPC_DIR_INO + 1 + createHash('sha256').update(name).digest().readUIntBE(0, 6);

interface Handle {
  mailbox: string;
  writing: boolean;
  sender: string;
  /** What a writer has written so far; what a reader has received and not yet read. */
  buffer: Buffer;
  received: boolean;
  /** A write that failed spoils the message: close reports it and sends nothing. */
  spoiled: FsError | null;
}

export class MailboxFiles {
  private readonly handles = new Map<number, Handle>();
  private readonly receivers = new Map<string, Promise<Ipc>>();
  private readonly wakeups: Wakeups;
  private next = 1;

  constructor(private readonly db: Db, private readonly home: DbosHome, private readonly ids: Identities) {
    this.wakeups = new Wakeups(wakeupSocket(home));
  }

  async start(): Promise<void> {
    await this.wakeups.start();
  }

  static owns(path: string): boolean {
    return path === IPC_DIR || path.startsWith(IPC_DIR + '/');
  }

  static isHandle(fd: number): boolean {
    return (fd & MAILBOX_HANDLE) !== 0;
  }

  private nameOf(path: string): string {
    const name = path.slice(IPC_DIR.length + 1);
    if (name === '' || name.includes('/')) throw fsError('ENOENT', path);
    return name;
  }

  async getattr(path: string): Promise<Stat> {
    const t = now();
    const base = { nlink: 1, rdev: 0, blksize: 4096, blocks: 0, size: 0, atime: t, mtime: t, ctime: t };
    if (path === IPC_DIR) return { ...base, ino: IPC_DIR_INO, mode: S_IFDIR | 0o755, uid: 0, gid: 0, nlink: 2 };
    const box = await getMailbox(this.db, this.nameOf(path));
    if (!box) throw fsError('ENOENT', path);
    // Everyone may write (send); only the owner may read (receive).
    return { ...base, ino: mailboxIno(box.name), mode: S_IFREG | 0o622, uid: await this.ids.uidOf(box.owner), gid: 0 };
  }

  async readdir(path: string): Promise<string[]> {
    if (path !== IPC_DIR) throw fsError('ENOTDIR', path);
    return (await listMailboxes(this.db)).map((b) => b.name);
  }

  async open(path: string, flags: number, caller: Caller): Promise<number> {
    const name = this.nameOf(path);
    const box = await getMailbox(this.db, name);
    if (!box) throw fsError('ENOENT', path);
    const acc = flags & 3;
    if (acc === 2) throw fsError('EINVAL', path, 'open a mailbox to read or to write, not both');
    const sender = (await this.ids.user(caller.uid)).name;
    if (acc === 0 && caller.uid !== 0 && sender !== box.owner) throw fsError('EACCES', path);
    const fd = MAILBOX_HANDLE | this.next;
    this.next = this.next >= 0x3ffffff0 ? 1 : this.next + 1;
    this.handles.set(fd, { mailbox: name, writing: acc !== 0, sender, buffer: Buffer.alloc(0), received: false, spoiled: null });
    return fd;
  }

  private handle(fd: number): Handle {
    const h = this.handles.get(fd);
    if (!h) throw fsError('EBADF');
    return h;
  }

  /** A message is one stream of bytes: writes must follow each other. */
  async write(fd: number, data: Buffer, position: number): Promise<number> {
    const h = this.handle(fd);
    if (!h.writing) throw fsError('EBADF');
    if (h.spoiled) throw h.spoiled;
    const bad = position !== h.buffer.length
      ? fsError('EINVAL', undefined, 'a message is written from start to end, without seeking')
      : h.buffer.length + data.length > MAX_MESSAGE_BYTES
        ? fsError('EFBIG', undefined, `a message is at most ${MAX_MESSAGE_BYTES} bytes`)
        : null;
    if (bad) {
      h.spoiled = bad;
      h.buffer = Buffer.alloc(0);
      throw bad;
    }
    h.buffer = Buffer.concat([h.buffer, data]);
    return data.length;
  }

  /** The next message, then its remaining bytes, then end of file. */
  async read(fd: number, length: number): Promise<Buffer> {
    const h = this.handle(fd);
    if (h.writing) throw fsError('EBADF');
    if (!h.received) {
      const m = await (await this.receiver(h.mailbox)).recv({ timeoutMs: READ_WAIT_MS });
      if (!m) throw fsError('EAGAIN', undefined, `no message within ${READ_WAIT_MS / 1000} s`);
      h.received = true;
      h.buffer = m.data;
    }
    const out = h.buffer.subarray(0, length);
    h.buffer = h.buffer.subarray(out.length);
    return out;
  }

  private receiver(name: string): Promise<Ipc> {
    let r = this.receivers.get(name);
    if (!r) {
      r = Ipc.open(this.db, { name, home: this.home });
      this.receivers.set(name, r);
      r.catch(() => this.receivers.delete(name));
    }
    return r;
  }

  /**
   * close(2) of a written mailbox file sends what was written as one message
   * (nothing written, nothing sent), so the writer hears of any failure.
   */
  async flush(fd: number): Promise<void> {
    const h = this.handle(fd);
    if (h.spoiled) throw h.spoiled;
    if (!h.writing || h.buffer.length === 0) return;
    const data = h.buffer;
    h.buffer = Buffer.alloc(0);
    try {
      await sendMessages(this.db, h.sender, [{ to: h.mailbox, topic: '', data }]);
    } catch (e) {
      throw isUnknownReceiver(e) ? fsError('ENOENT', undefined, `no mailbox "${h.mailbox}"`) : e;
    }
    this.wakeups.sent([h.mailbox]);
  }

  async release(fd: number): Promise<void> {
    try {
      if (!this.handle(fd).spoiled) await this.flush(fd);
    } finally {
      this.handles.delete(fd);
    }
  }

  async close(): Promise<void> {
    for (const r of this.receivers.values()) await (await r.catch(() => null))?.close();
    this.wakeups.close();
  }

  /** What the adapter answers for any other operation under .ipc. */
  static refuse(path: string): FsError {
    return fsError(path === IPC_DIR ? 'EPERM' : 'EACCES', path, 'mailboxes are created with dbos mailbox create');
  }
}
