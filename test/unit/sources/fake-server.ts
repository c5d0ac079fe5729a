import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the fake server saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Form fields of a POST body. */
  form: URLSearchParams;
  headers: IncomingMessage['headers'];
}

/** What the fake answers: status, body, content type; `hang` never answers (for timeouts). */
export interface FakeAnswer {
  status?: number;
  body?: string;
  contentType?: string;
  hang?: boolean;
}

export interface FakeServer {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP server (127.0.0.1, port 0) that replays canned answers chosen by `answer`.
 * Hanging requests are ended when the server closes, so tests never leak sockets.
 */
export async function startFakeServer(
  answer: (req: SeenRequest, index: number) => FakeAnswer,
): Promise<FakeServer> {
  const requests: SeenRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const seen: SeenRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
        headers: req.headers,
      };
      requests.push(seen);
      const reply = answer(seen, requests.length - 1);
      if (reply.hang) {
        hanging.add(res);
        return;
      }
      res.writeHead(reply.status ?? 200, { 'content-type': reply.contentType ?? 'application/json' });
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A Prometheus success envelope around `data`. */
export function promSuccess(data: unknown): FakeAnswer {
  return { body: JSON.stringify({ status: 'success', data }) };
}

/** A Prometheus error envelope with the status 2.42 gives each error type. */
export function promError(errorType: string, error: string, status: number): FakeAnswer {
  return { status, body: JSON.stringify({ status: 'error', errorType, error }) };
}
