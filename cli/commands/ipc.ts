// Messaging commands: dbos send, dbos recv, dbos mailbox, and the dbos ipc
// daemon. Your mailbox is your user name unless you say otherwise.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Db } from '../../schema/db.js';
import { fileLogger, stderrLogger } from '../../schema/log.js';
import { requireCurrentSchema } from '../../schema/migrations.js';
import { Ipc, wakeupSocket } from '../../ipc/client.js';
import { IpcDaemon } from '../../ipc/daemon.js';
import { deleteMailbox, getMailbox, listMailboxes } from '../../ipc/sql.js';
import { Identities } from '../../fs/identity.js';
import * as users from '../../fs/sql/users.js';
import { CliError } from '../errors.js';
import { formatTable } from '../table.js';
import { connect, resolveTarget } from '../target.js';
import { wholeNumber } from '../units.js';

const me = () => userInfo().username;
const uid = () => process.getuid?.() ?? 0;

async function withDb<T>(dbUrl: string | undefined, work: (db: Db, home: ReturnType<typeof resolveTarget>['home']) => Promise<T>): Promise<T> {
  const r = resolveTarget(dbUrl);
  const db = await connect(r);
  try {
    await requireCurrentSchema(db);
    return await work(db, r.home);
  } finally {
    await db.close();
  }
}

/** Refuses to read someone else's mailbox (root may). */
async function requireOwnMailbox(db: Db, name: string): Promise<void> {
  const box = await getMailbox(db, name);
  if (!box || uid() === 0) return;
  const ids = new Identities(db, Math.max(1, await users.partitions(db)));
  await ids.reload();
  if (box.owner !== (await ids.user(uid())).name) throw new CliError(`mailbox "${name}" belongs to ${box.owner}; you can send to it, not receive from it.`);
}

export function registerIpcCommands(program: Command): void {
  program.command('send')
    .argument('<receiver>', 'a mailbox name')
    .argument('[data]', 'the message; "-" or nothing reads it from stdin')
    .description('send a message (one CALL of ipc_send: one transaction)')
    .option('--topic <topic>', 'receivers can ask for one topic')
    .option('--from <mailbox>', 'the sender\'s mailbox, where replies go (default: your user name)')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (receiver: string, data: string | undefined, o: { topic?: string; from?: string; db?: string }) => {
      const bytes = data === undefined || data === '-' ? readFileSync(0) : Buffer.from(data);
      await withDb(o.db, async (db, home) => {
        const ipc = await Ipc.open(db, { name: o.from ?? me(), create: true, home });
        try {
          await ipc.send(receiver, bytes, { topic: o.topic });
        } finally {
          await ipc.close();
        }
      });
    });

  program.command('recv')
    .description('receive messages from your mailbox (each receive is one transaction) and print their data')
    .option('--topic <topic>', 'only messages of this topic (default: any topic)')
    .option('--timeout <ms>', 'give up after this long (exit 1); default: wait as long as it takes')
    .option('--count <n>', 'how many messages to receive', '1')
    .option('--as <mailbox>', 'receive from this mailbox (default: your user name)')
    .option('--json', 'print each message as JSON (id, sender, topic, data as UTF-8, sentAt)')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (o: { topic?: string; timeout?: string; count: string; as?: string; json?: boolean; db?: string }) => {
      const count = wholeNumber('--count', 1)(o.count);
      const timeoutMs = o.timeout === undefined ? undefined : wholeNumber('--timeout')(o.timeout);
      await withDb(o.db, async (db, home) => {
        const name = o.as ?? me();
        await requireOwnMailbox(db, name);
        const ipc = await Ipc.open(db, { name, create: true, home });
        try {
          for (let got = 0; got < count; got++) {
            const m = await ipc.recv({ topic: o.topic, timeoutMs });
            if (!m) throw new CliError(`no message${o.topic ? ` of topic "${o.topic}"` : ''} arrived in mailbox "${name}" within ${timeoutMs} ms.`);
            if (o.json) console.log(JSON.stringify({ id: m.id, sender: m.sender, topic: m.topic, data: m.data.toString('utf8'), sentAt: m.sentAt }));
            else process.stdout.write(m.data);
          }
        } finally {
          await ipc.close();
        }
      });
    });

  const mailbox = program.command('mailbox').description('mailboxes: create, list, delete');
  mailbox.command('create')
    .argument('<name>')
    .description('create a mailbox owned by you')
    .option('--history', 'keep delivered messages in Message_history')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (name: string, o: { history?: boolean; db?: string }) => {
      await withDb(o.db, async (db, home) => {
        if (await getMailbox(db, name)) throw new CliError(`mailbox "${name}" exists already.`);
        const ipc = await Ipc.open(db, { name, create: true, keepHistory: o.history, home });
        await ipc.close();
        console.log(`created mailbox ${name}`);
      });
    });
  mailbox.command('list')
    .description('list mailboxes, with how many messages wait in each')
    .option('--json', 'print JSON')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (o: { json?: boolean; db?: string }) => {
      await withDb(o.db, async (db) => {
        const rows = await listMailboxes(db);
        if (o.json) console.log(JSON.stringify(rows, null, 2));
        else console.log(formatTable(['NAME', 'OWNER', 'PART', 'WAITING', 'HISTORY'], rows.map((b) => ({ NAME: b.name, OWNER: b.owner, PART: b.pKey, WAITING: b.waiting, HISTORY: b.keepHistory ? 'yes' : 'no' }))));
      });
    });
  mailbox.command('delete')
    .argument('<name>')
    .description('delete your mailbox and the messages waiting in it')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (name: string, o: { db?: string }) => {
      await withDb(o.db, async (db) => {
        if (!(await getMailbox(db, name))) throw new CliError(`there is no mailbox "${name}".`);
        await requireOwnMailbox(db, name);
        await deleteMailbox(db, name);
        console.log(`deleted mailbox ${name}`);
      });
    });

  program.command('ipc')
    .description('run the messaging daemon (foreground): wakes local receivers when messages arrive, so nobody polls')
    .option('--poll <ms>', 'the safety-net check for missed wake-ups', '1000')
    .option('--log <file>', 'log to this file instead of stderr')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (o: { poll: string; log?: string; db?: string }) => {
      const log = o.log ? fileLogger('dbos-ipc', o.log) : stderrLogger('dbos-ipc', 'info');
      await withDb(o.db, async (db, home) => {
        const socketPath = wakeupSocket(home);
        const d = new IpcDaemon(db, log, { socketPath, pollMs: wholeNumber('--poll', 10)(o.poll) });
        try {
          await d.start();
        } catch (e) {
          throw new CliError(`cannot listen on ${socketPath}: ${(e as Error).message}.`);
        }
        console.log(`dbos ipc listening on ${socketPath}`);
        await new Promise<void>((resolve) => {
          for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
        });
        await d.stop();
        log.info({ wakeups: d.wakeups }, 'stopped');
      });
    });
}

