import type { Socket } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { buildConnector } from 'undici';
import type { TlsInfo } from './types.js';

/** TLS settings of one probe, resolved at load (the CA file is read once, not per run). */
export interface TlsSettings {
  ca?: Buffer;
  rejectUnauthorized: boolean;
  serverName?: string;
}

/**
 * What happened on one new connection, as `performance.now()` marks. Undici's fetch resource timing
 * leaves connection phases unimplemented, so they come from the socket's own events instead.
 */
export interface ConnectionTimings {
  /** When undici asked for the connection. */
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
  connectTimeoutMs: number;
  tls: TlsSettings;
  /** 0 lets the resolver choose; 4 or 6 forces the address family. */
  family: 0 | 4 | 6;
}

/**
 * Builds an undici connector that reports the timings of every connection it opens to `onConnection`.
 * Session resumption is off (maxCachedSessions 0): a probe measures the full handshake a new user pays.
 *
 * @example
 *   const connect = createTimedConnector(opts, (t) => timings.push(t));
 *   const agent = new Agent({ connect });
 */
export function createTimedConnector(
  options: ConnectorOptions,
  onConnection: (timings: ConnectionTimings) => void,
): buildConnector.connector {
  const base = buildConnector({
    timeout: options.connectTimeoutMs,
    maxCachedSessions: 0,
    rejectUnauthorized: options.tls.rejectUnauthorized,
    ...(options.tls.ca ? { ca: options.tls.ca } : {}),
    ...(options.tls.serverName ? { servername: options.tls.serverName } : {}),
    ...(options.family !== 0 ? { family: options.family, autoSelectFamily: false } : {}),
  });
  return (connectOptions, callback) => {
    const timings: ConnectionTimings = {
      startedAt: performance.now(),
      tls: connectOptions.protocol === 'https:',
    };
    onConnection(timings);
    const socket = base(connectOptions, callback) as unknown as Socket;
    socket.once('lookup', () => {
      timings.lookupAt = performance.now();
    });
    socket.once('connect', () => {
      timings.connectedAt = performance.now();
    });
    if (timings.tls) {
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
