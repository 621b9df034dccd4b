// The echo side of `dbos bench ipc`, run as its own process so that client
// and server use separate cores, as in the paper: a raw TCP echo server, a
// gRPC echo service (unary and bidirectional streaming, bytes in and out, no
// protobuf), and DBOS echo receivers (mailboxes echo-0 … echo-N-1 that answer
// each message to its sender). Usage: servers.js tcp|grpc, or dbos COUNT
// with DBOS_DB_URL and DBOS_HOME set. Prints "ready PORT" when listening.
import { createServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Db } from '../../schema/db.js';
import { dbosHome } from '../../schema/home.js';
import { parseDbUrl } from '../../schema/url.js';
import { Ipc } from '../client.js';

export const bytes = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };

export const ECHO_SERVICE = {
  echo: {
    path: '/bench.Echo/Echo', requestStream: false, responseStream: false,
    requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize,
  },
  stream: {
    path: '/bench.Echo/Stream', requestStream: true, responseStream: true,
    requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize,
  },
} satisfies grpc.ServiceDefinition;

/** Frames on a TCP stream: a 4-byte big-endian length, then the bytes. */
export function frameReader(onFrame: (f: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 4) {
      const n = pending.readUInt32BE(0);
      if (pending.length < 4 + n) break;
      onFrame(pending.subarray(4, 4 + n));
      pending = pending.subarray(4 + n);
    }
  };
}

export function frame(data: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  return Buffer.concat([head, data]);
}

async function tcp(): Promise<number> {
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.on('data', frameReader((f) => s.write(frame(f))));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

async function grpcServer(): Promise<number> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
    stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (b: Buffer) => call.write(b));
      call.on('end', () => call.end());
    },
  });
  return new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))));
}

async function dbos(count: number): Promise<number> {
  const db = new Db(parseDbUrl(process.env.DBOS_DB_URL!), { poolSize: Math.min(64, count + 4) });
  const home = dbosHome();
  for (let i = 0; i < count; i++) {
    const ipc = await Ipc.open(db, { name: `echo-${i}`, create: true, home });
    void (async () => {
      for (;;) {
        const batch = await ipc.recvMany({ max: 64 });
        await ipc.sendMany(batch.map((m) => ({ to: m.sender, data: m.data })));
      }
    })();
  }
  return 0;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [kind, arg] = process.argv.slice(2);
  const start = kind === 'tcp' ? tcp() : kind === 'grpc' ? grpcServer() : dbos(Number(arg));
  start.then((port) => console.log(`ready ${port}`), (e) => {
    console.error(e);
    process.exit(1);
  });
  process.on('SIGTERM', () => process.exit(0));
}
