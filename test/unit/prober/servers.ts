import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Running {
  url: string;
  port: number;
  close(): Promise<void>;
}

async function listen(server: net.Server, scheme: string): Promise<Running> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP server on 127.0.0.1, port 0. */
export function startHttp(handler: http.RequestListener): Promise<Running> {
  return listen(http.createServer(handler), 'http');
}

/** A raw TCP server, for answers no HTTP server would give. */
export function startRaw(onSocket: (socket: net.Socket) => void): Promise<Running> {
  return listen(net.createServer(onSocket), 'http');
}

export interface Cert {
  key: Buffer;
  cert: Buffer;
  certFile: string;
  cleanup(): void;
}

/** A self-signed certificate for localhost/127.0.0.1, made with the openssl CLI in a temp folder. */
export function makeSelfSignedCert(days = 30): Cert {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      String(days),
      '-subj',
      '/CN=localhost/O=Vigil Test',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return {
    key: readFileSync(keyFile),
    cert: readFileSync(certFile),
    certFile,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** An HTTPS server with the given certificate. */
export function startHttps(cert: Cert, handler: http.RequestListener, options: https.ServerOptions = {}) {
  return listen(https.createServer({ key: cert.key, cert: cert.cert, ...options }, handler), 'https');
}
