// Idle receivers for `dbos bench ipc`: COUNT mailboxes idle-0 … each waiting
// in recv() with no timeout, so that their CPU use can be measured. Prints
// "ready" once all wait. Needs DBOS_DB_URL and DBOS_HOME.
import { Db } from '../../schema/db.js';
import { dbosHome } from '../../schema/home.js';
import { parseDbUrl } from '../../schema/url.js';
import { Ipc } from '../client.js';

const count = Number(process.argv[2] ?? 10);
const prefix = process.argv[3] ?? 'idle';
const db = new Db(parseDbUrl(process.env.DBOS_DB_URL!), { poolSize: 4 });
const home = dbosHome();
const waits: Promise<unknown>[] = [];
for (let i = 0; i < count; i++) {
  const ipc = await Ipc.open(db, { name: `${prefix}-${i}`, create: true, home });
  waits.push(ipc.recv());
}
console.log(`ready ${waits.length}`);
process.on('SIGTERM', () => process.exit(0));
await Promise.all(waits);
