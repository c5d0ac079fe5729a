import net, { type Socket } from 'node:net';
import tls, { type DetailedPeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import type { TlsInfo } from './types.js';

/** TLS settings of one probe, resolved at load (the CA file is read once, not per run). */
export interface TlsSettings {
  ca?: Buffer;
  rejectUnauthorized: boolean;
  serverName?: string;
}

/**
 * What happened on one new connection, as `performance.now()` marks, taken from the socket's own events
 * (fetch's resource timing leaves connection phases unimplemented).
 */
export interface ConnectionTimings {
  /** When the connection was asked for. */
  startedAt: number;
  /** Name resolved; absent for an IP literal, which skips lookup. */
  lookupAt?: number;
  /** TCP connected. */
  connectedAt?: number;
  /** TLS handshake done. */
  secureAt?: number;
  /** True for https, so a failure between connect and secureConnect is known to be the handshake. */
  tls: boolean;
  tlsInfo?: TlsInfo;
}

export interface ConnectorOptions {
  tls: TlsSettings;
  /** 0 lets the resolver choose; 4 or 6 forces the address family. */
  family: 0 | 4 | 6;
  /** TCP keep-alive on the socket: only for a kept connection, a fresh one closes after one exchange. */
  keepAlive?: boolean;
}

/** Where a connection goes: the parts of a URL the connector needs. */
export interface ConnectTarget {
  protocol: string;
  /** Without IPv6 brackets. */
  host: string;
  port: number;
}

/** A function that opens one timed connection (node:http's `createConnection`). */
export type TimedConnector = (target: ConnectTarget) => Socket;

// A secure context holds the parsed trust store; building one per connection (what tls.connect does when
// given `ca`) re-parses the CA PEM on every run. One per CA buffer, made on first use; probes that trust the
// system roots share one. A context does not resume sessions by itself: a client resumes only when handed a
// `session`, which is never done here, so every handshake is the full one a new user pays.
const contexts = new WeakMap<Buffer, SecureContext>();
let systemContext: SecureContext | undefined;

function secureContextFor(settings: TlsSettings): SecureContext {
  if (!settings.ca) {
    systemContext ??= tls.createSecureContext();
    return systemContext;
  }
  let context = contexts.get(settings.ca);
  if (!context) {
    context = tls.createSecureContext({ ca: settings.ca });
    contexts.set(settings.ca, context);
  }
  return context;
}

/**
 * Builds a connector that opens plain or TLS sockets and reports the timings of every connection it
 * opens to `onConnection`. The socket's listeners are attached before any event can fire.
 *
 * @example
 *   const connect = createTimedConnector(opts, (t) => timings.push(t));
 *   http.request({ ..., createConnection: () => connect({ protocol: 'http:', host: '127.0.0.1', port: 8080 }) });
 */
export function createTimedConnector(
  options: ConnectorOptions,
  onConnection: (timings: ConnectionTimings) => void,
): TimedConnector {
  const familyOptions = options.family !== 0 ? { family: options.family, autoSelectFamily: false } : {};
  return (target) => {
    const secure = target.protocol === 'https:';
    const timings: ConnectionTimings = { startedAt: performance.now(), tls: secure };
    onConnection(timings);
    const socket: Socket = secure
      ? tls.connect({
          host: target.host,
          port: target.port,
          // SNI carries a name, never an IP address (RFC 6066 §3); identity is then checked against the host.
          ...(options.tls.serverName
            ? { servername: options.tls.serverName }
            : net.isIP(target.host) === 0
              ? { servername: target.host }
              : {}),
          secureContext: secureContextFor(options.tls),
          rejectUnauthorized: options.tls.rejectUnauthorized,
          ALPNProtocols: ['http/1.1'],
          ...familyOptions,
        })
      : net.connect({ host: target.host, port: target.port, noDelay: true, ...familyOptions });
    // tls.connect does not pass `noDelay` on to its socket; before connect this only sets a flag.
    if (secure) socket.setNoDelay(true);
    if (options.keepAlive) socket.setKeepAlive(true, 60_000);
    socket.once('lookup', () => {
      timings.lookupAt = performance.now();
    });
    socket.once('connect', () => {
      timings.connectedAt = performance.now();
    });
    if (secure) {
      socket.once('secureConnect', () => {
        timings.secureAt = performance.now();
        timings.tlsInfo = readTlsInfo(socket as TLSSocket);
      });
    }
    return socket;
  };
}

/**
 * Reads the negotiated protocol and the certificate facts of a connected TLS socket.
 *
 * @example readTlsInfo(socket) // { protocol: 'TLSv1.3', leafExpiresAt: 1798761600000, … }
 */
export function readTlsInfo(socket: TLSSocket): TlsInfo | undefined {
  const leaf = socket.getPeerCertificate(true);
  if (!leaf || Object.keys(leaf).length === 0) return undefined;
  const leafExpiresAt = Date.parse(leaf.valid_to);
  let chainExpiresAt = leafExpiresAt;
  // The chain links through issuerCertificate; a self-signed root points at itself, which ends the walk.
  const seen = new Set<DetailedPeerCertificate>();
  for (
    let cert: DetailedPeerCertificate | undefined = leaf;
    cert && !seen.has(cert);
    cert = cert.issuerCertificate
  ) {
    seen.add(cert);
    const expiresAt = Date.parse(cert.valid_to);
    if (Number.isFinite(expiresAt)) chainExpiresAt = Math.min(chainExpiresAt, expiresAt);
  }
  return {
    protocol: socket.getProtocol() ?? 'unknown',
    leafExpiresAt,
    chainExpiresAt,
    issuer: formatName(leaf.issuer),
    subjectAltNames: (leaf.subjectaltname ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
  };
}

function formatName(name: object | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : String(value)}`)
    .join(', ');
}
