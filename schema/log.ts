// Structured logs (pino). Daemons log to a file under $DBOS_HOME/logs; the CLI
// logs warnings to stderr. Database URLs are redacted before they get here,
// and the `password` and `url` fields are censored as a second line of defence.
import { pino, type Logger } from 'pino';

const redact = { paths: ['password', '*.password', 'url', '*.url'], censor: '[redacted]' };

export function fileLogger(name: string, file: string, level = process.env.DBOS_LOG_LEVEL || 'info'): Logger {
  return pino({ name, level, redact }, pino.destination({ dest: file, mkdir: true, sync: false }));
}

export function stderrLogger(name: string, level = process.env.DBOS_LOG_LEVEL || 'warn'): Logger {
  return pino({ name, level, redact }, pino.destination(2));
}

export type { Logger };
