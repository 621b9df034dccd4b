// dbos sql "QUERY": SQL over the filesystem's tables, printed as a table or JSON.
import type { Command } from 'commander';
import { formatTable, jsonValue } from '../table.js';
import { connect, resolveTarget } from '../target.js';

export function registerSqlCommand(program: Command): void {
  program.command('sql')
    .argument('<query>', 'one SQL statement, e.g. "SELECT f_owner, SUM(f_size) FROM Localized_file WHERE f_size >= 20480 GROUP BY f_owner"')
    .description('run SQL against the filesystem tables')
    .option('--json', 'print the rows as JSON')
    .option('--db <url>', 'the database instead of the private server')
    .action(async (query: string, o: { json?: boolean; db?: string }) => {
      const db = await connect(resolveTarget(o.db));
      try {
        const result = await db.text(query, { timeoutMs: 3_600_000 });
        if (result.rows === null) {
          console.log(o.json ? JSON.stringify({ affectedRows: result.affected }) : `(${result.affected} row${result.affected === 1 ? '' : 's'} affected)`);
          return;
        }
        if (o.json) {
          const rows = result.rows.map((r) => Object.fromEntries(result.fields.map((f) => [f.name, jsonValue(r[f.name], f.decimal)])));
          console.log(JSON.stringify(rows, null, 2));
        } else {
          console.log(formatTable(result.fields.map((f) => f.name), result.rows));
        }
      } finally {
        await db.close();
      }
    });
}
