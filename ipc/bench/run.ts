// `dbos bench ipc`, the experiments: DBOS messaging against gRPC (unary and
// streaming) and raw TCP, all on loopback, with the echo side in its own
// process. Patterns as in the paper: ping-pong, ping20-pong20, and multicast
// to 1–40 receivers that reply; plus what idle receivers cost.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { percentile } from '../../cli/bench/report.js';
import type { DbosHome } from '../../schema/home.js';
import { targetUrl, type DbTarget } from '../../schema/url.js';
import { dbosDriver, grpcDriver, tcpDriver, type Driver } from './drivers.js';

const HERE = (f: string) => fileURLToPath(new URL(f, import.meta.url));

export type Pattern = 'ping-pong' | 'ping20-pong20' | 'multicast';

export interface Cell {
  system: string;
  pattern: Pattern;
  bytes: number;
  /** Concurrent pairs (ping patterns) or receivers (multicast). */
  width: number;
  /** Messages answered per second (one per round trip; 20 per burst; R per multicast). */
  messagesPerSecond: number;
  /** Round trips, bursts or multicast rounds per second. */
  opsPerSecond: number;
  /** Latency of one round trip, burst or multicast round (ms). */
  medianMs: number;
  p99Ms: number;
}

export interface IdleResult {
  receivers: number;
  seconds: number;
  /** CPU of the receivers' process plus the daemon's (and the database server's, if ours), per receiver, in % of one core. */
  withDaemonPercentEach: number;
  /** The same receivers without a daemon (their polling fallback). */
  withoutDaemonPercentEach: number;
  /** Whether the database server's CPU is included (only for the private server, whose process we know). */
  serverIncluded: boolean;
}

export interface IpcBenchOptions {
  target: DbTarget;
  home: DbosHome;
  /** A DBOS_HOME with no daemon, for the polling fallback. */
  lonelyHome: DbosHome;
  cli: string;
  /** The database server's pid, when it runs here: idle receivers are charged its CPU too. */
  serverPid?: number;
  sizes: number[];
  pairs: number[];
  receivers: number[];
  seconds: number;
  idleReceivers: number;
  idleSeconds: number;
  log: (m: string) => void;
}

/** `loops` concurrent loops of `op` for `seconds`. */
async function timed(loops: number, seconds: number, op: (loop: number) => Promise<void>): Promise<{ ops: number; lat: number[]; elapsed: number }> {
  const lat: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(Array.from({ length: loops }, async (_, i) => {
    while (performance.now() < end) {
      const t = performance.now();
      await op(i);
      lat.push(performance.now() - t);
    }
  }));
  return { ops: lat.length, lat: lat.sort((a, b) => a - b), elapsed: (performance.now() - start) / 1000 };
}

function child(args: string[], env: NodeJS.ProcessEnv): Promise<{ proc: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /^(ready|dbos ipc listening)\s*(\d*)/m.exec(out);
      if (m) resolve({ proc, port: Number(m[2] || 0) });
    });
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}): ${out}`)));
  });
}

const stop = (p: ChildProcess) => new Promise<void>((r) => {
  if (p.exitCode !== null || p.signalCode !== null) return r();
  p.once('exit', () => r());
  p.kill('SIGTERM');
});

/** CPU seconds a process has used so far (user + system). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export async function runIpcBench(o: IpcBenchOptions): Promise<{ cells: Cell[]; idle: IdleResult }> {
  const env = { ...process.env, DBOS_DB_URL: targetUrl(o.target), DBOS_HOME: o.home.root };
  const widest = Math.max(...o.pairs, ...o.receivers);
  const daemon = await child([o.cli, 'ipc', '--log', '/dev/null'], env);
  const servers: ChildProcess[] = [daemon.proc];
  const cells: Cell[] = [];
  try {
    const tcp = await child([HERE('./servers.js'), 'tcp'], env);
    const grpc = await child([HERE('./servers.js'), 'grpc'], env);
    const echo = await child([HERE('./servers.js'), 'dbos', String(widest)], env);
    servers.push(tcp.proc, grpc.proc, echo.proc);
    const systems: [string, () => Promise<Driver>][] = [
      ['tcp', () => tcpDriver(tcp.port, widest)],
      ['grpc-unary', () => grpcDriver(grpc.port, widest, false)],
      ['grpc-stream', () => grpcDriver(grpc.port, widest, true)],
      ['dbos', () => dbosDriver(o.target, o.home, widest)],
    ];
    for (const [name, open] of systems) {
      const d = await open();
      try {
        for (const bytes of o.sizes) {
          const data = Buffer.alloc(bytes, 0x61);
          for (const width of o.pairs) {
            await timed(width, Math.min(0.5, o.seconds), (i) => d.roundTrip(i, data));  // warm-up
            const pp = await timed(width, o.seconds, (i) => d.roundTrip(i, data));
            cells.push({ system: name, pattern: 'ping-pong', bytes, width, messagesPerSecond: pp.ops / pp.elapsed, opsPerSecond: pp.ops / pp.elapsed, medianMs: percentile(pp.lat, 50), p99Ms: percentile(pp.lat, 99) });
            const b = await timed(width, o.seconds, (i) => d.burst(i, data, 20));
            cells.push({ system: name, pattern: 'ping20-pong20', bytes, width, messagesPerSecond: (20 * b.ops) / b.elapsed, opsPerSecond: b.ops / b.elapsed, medianMs: percentile(b.lat, 50), p99Ms: percentile(b.lat, 99) });
            o.log(`  ${name} ${bytes} B x${width}: ping-pong ${Math.round(pp.ops / pp.elapsed)}/s median ${percentile(pp.lat, 50).toFixed(3)} ms; ping20 ${Math.round((20 * b.ops) / b.elapsed)} msg/s`);
          }
        }
        const small = Buffer.alloc(64, 0x61);
        for (const r of o.receivers) {
          const m = await timed(1, o.seconds, () => d.multicast(r, small));
          cells.push({ system: name, pattern: 'multicast', bytes: 64, width: r, messagesPerSecond: (r * m.ops) / m.elapsed, opsPerSecond: m.ops / m.elapsed, medianMs: percentile(m.lat, 50), p99Ms: percentile(m.lat, 99) });
          o.log(`  ${name} multicast to ${r}: ${Math.round(m.ops / m.elapsed)} rounds/s, median ${percentile(m.lat, 50).toFixed(3)} ms`);
        }
      } finally {
        await d.close();
      }
    }

    // Idle receivers: with the daemon they sleep on its socket; without it they poll, backing off to 1 s.
    const idle = async (home: DbosHome, prefix: string, withDaemon: boolean) => {
      const p = await child([HERE('./idle.js'), String(o.idleReceivers), prefix], { ...env, DBOS_HOME: home.root });
      try {
        await new Promise((r) => setTimeout(r, 3000));  // past the polling back-off
        // Nothing else runs now, so all the server's CPU is theirs.
        const pids = [p.proc.pid!, ...(withDaemon ? [daemon.proc.pid!] : []), ...(o.serverPid ? [o.serverPid] : [])];
        const total = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
        const before = total();
        await new Promise((r) => setTimeout(r, o.idleSeconds * 1000));
        const used = total() - before;
        return (100 * used) / o.idleSeconds / o.idleReceivers;
      } finally {
        await stop(p.proc);
      }
    };
    o.log(`idle receivers: ${o.idleReceivers} for ${o.idleSeconds} s, with and without the daemon`);
    const withDaemonPercentEach = await idle(o.home, 'idle', true);
    const withoutDaemonPercentEach = await idle(o.lonelyHome, 'lonely', false);
    return { cells, idle: { receivers: o.idleReceivers, seconds: o.idleSeconds, withDaemonPercentEach, withoutDaemonPercentEach, serverIncluded: o.serverPid !== undefined } };
  } finally {
    for (const s of servers) await stop(s);
  }
}
