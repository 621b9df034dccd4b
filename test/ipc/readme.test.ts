// The README's messaging patterns in SQL, run as written: fan-out,
// request/reply and hub-and-spoke are a few statements each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createMailbox } from '../../ipc/sql.js';
import { freshDatabase, type TestDb } from '../helpers/db.js';

let t: TestDb;
const readme = readFileSync('README.md', 'utf8');

beforeAll(async () => {
  t = await freshDatabase();
  for (const name of ['coordinator', 'worker-1', 'worker-2', 'worker-3', 'client', 'server', 'hub', 'spoke-1', 'spoke-2', 'spoke-3']) {
    await createMailbox(t.db, { name, owner: 'root', pKey: 0 });
  }
});
afterAll(async () => { await t?.drop(); });

/** Runs the README's SQL block after `*label*`, statement by statement; returns each statement's rows. */
async function runPattern(label: string): Promise<Record<string, unknown>[][]> {
  const block = new RegExp(`\\*${label}\\*[\\s\\S]*?\`\`\`sql\\n([\\s\\S]*?)\`\`\``).exec(readme)![1]!;
  const out: Record<string, unknown>[][] = [];
  for (const statement of block.split(/;\n/).map((x) => x.trim()).filter(Boolean)) out.push(await t.db.call(statement.replace(/;$/, '')));
  return out;
}

const waiting = async (receiver: string) => (await t.db.rows(
  'SELECT sender_id, topic, data FROM Message_waiting WHERE receiver_id = ? ORDER BY message_id', [receiver]))
  .map((r) => [String(r.sender_id), String(r.topic), String(r.data)]);

describe("README's messaging patterns", () => {
  it('fan-out puts one message in every worker mailbox', async () => {
    await runPattern('Fan-out');
    for (const w of ['worker-1', 'worker-2', 'worker-3']) expect(await waiting(w)).toEqual([['coordinator', 'work', 'shard 7']]);
    expect(await waiting('client')).toEqual([]);
  });

  it('request/reply: the server sees who asked, the client gets only its answer', async () => {
    const [, asked, , answered] = await runPattern('Request/reply');
    expect(asked!.map((r) => [String(r.sender_id), String(r.topic), String(r.data)])).toEqual([['client', 'req-42', 'what time is it?']]);
    expect(answered).toHaveLength(1);
    expect(String(answered![0]!.sender_id)).toBe('server');
    expect(String(answered![0]!.data)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
  });

  it('hub and spoke: the hub relays to every other spoke', async () => {
    const [, taken] = await runPattern('Hub and spoke');
    expect(taken!.map((r) => String(r.sender_id))).toEqual(['spoke-1']);
    expect(await waiting('spoke-1')).toEqual([]);
    for (const s of ['spoke-2', 'spoke-3']) expect(await waiting(s)).toEqual([['hub', '', 'hello']]);
  });

  it('a send to nobody, or to an unknown mailbox, is refused and sends nothing', async () => {
    await expect(t.db.call("CALL ipc_send('hub', '[]', 'x')")).rejects.toThrow(/at least one/);
    await expect(t.db.call("CALL ipc_send('hub', (SELECT JSON_ARRAYAGG(JSON_ARRAY(name)) FROM Mailbox WHERE name = 'nobody'), 'x')")).rejects.toThrow(/at least one/);
    await expect(t.db.call(`CALL ipc_send('hub', '[["spoke-2"], ["nobody"]]', 'half')`)).rejects.toMatchObject({ errno: 1452 });
    expect(await waiting('spoke-2')).toEqual([['hub', '', 'hello']]);
  });
});
