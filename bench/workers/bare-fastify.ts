/*
 * The verdict API's peer: a bare fastify route answering the same JSON from memory — no auth, rate limit,
 * store or request log — in its own process, so the same autocannon measures what Vigil's route adds.
 *   argv[2]: the body to serve (a verdict fetched from the daemon).
 * Sends { kind: 'ready', port } once it listens; exits on { cmd: 'stop' }.
 */
import Fastify from 'fastify';

async function main(): Promise<void> {
  const body = process.argv[2] ?? '{}';
  const app = Fastify({ logger: false });
  app.get('/verdict', async (_request, reply) => reply.type('application/json').send(body));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  process.send?.({ kind: 'ready', port: typeof address === 'object' && address ? address.port : 0 });
  process.on('message', (message: { cmd?: string }) => {
    if (message.cmd === 'stop') void app.close().then(() => process.exit(0));
  });
}

void main().catch((error: unknown) => {
  process.send?.({ kind: 'error', message: (error as Error).message });
  process.exit(1);
});
