import { createHash } from 'node:crypto';
import { type Cluster, DrainTree } from './drain.js';
import { type EventOptions, type LogLine, readEvent } from './event.js';
import { maskMessage, tokenize } from './mask.js';
import { redactLine } from './redact.js';

/*
 * Log signatures (DESIGN §5): lines → masked templates with counts, first/last seen and two example lines;
 * and the classification of a new version's lines against stored signatures (the baseline, the service's
 * "not a risk" list, its "always fail" list). A line is matched against the stored templates first, with
 * the same routing and threshold Drain clusters with; only lines no stored template takes are clustered
 * afresh, and those clusters are the new signatures.
 */

/** Examples kept per signature. */
export const EXAMPLES_PER_SIGNATURE = 2;
const MAX_EXAMPLE_CHARS = 500;

/** One signature: a template within a level and logger, and what was seen of it. */
export interface Signature {
  /** Stable id: a hash of level, logger and template (`p` + 12 hex digits). */
  id: string;
  level: string;
  logger: string;
  template: string;
  count: number;
  /** ms since epoch */
  firstSeen: number;
  lastSeen: number;
  /** Up to two raw lines, redacted. */
  examples: string[];
}

/** Lines past `maxSignatures`, counted together and said. */
export interface OtherBucket {
  count: number;
  firstSeen: number;
  examples: string[];
}

/** The signatures of a set of lines. */
export interface SignatureSet {
  signatures: Signature[];
  lines: number;
  other: OtherBucket | null;
}

/** What clustering needs: how to read JSON lines and how many signatures to keep. */
export interface ClusterOptions extends EventOptions {
  /** Templates kept; lines needing more go to the "other" bucket (default 1,000). */
  maxSignatures?: number;
}

/** A stored signature, as a baseline or an operator's feedback keeps it. */
export type StoredSignature = Pick<Signature, 'id' | 'level' | 'logger' | 'template' | 'count'>;

/**
 * The id of a signature: the same level, logger and template give the same id in every watch.
 *
 * @example signatureId('error', '', 'payment failed: <STR>') // 'p' followed by 12 hex digits
 */
export function signatureId(level: string, logger: string, template: string): string {
  return `p${createHash('sha256').update(`${level}\u0000${logger}\u0000${template}`).digest('hex').slice(0, 12)}`;
}

interface Seen {
  count: number;
  firstSeen: number;
  lastSeen: number;
  examples: string[];
}

const seen = (): Seen => ({ count: 0, firstSeen: Number.POSITIVE_INFINITY, lastSeen: 0, examples: [] });

function record(target: Seen, entry: LogLine): void {
  target.count++;
  if (entry.at < target.firstSeen) target.firstSeen = entry.at;
  if (entry.at > target.lastSeen) target.lastSeen = entry.at;
  if (target.examples.length < EXAMPLES_PER_SIGNATURE) {
    target.examples.push(redactLine(entry.line).slice(0, MAX_EXAMPLE_CHARS));
  }
}

const GROUP_SEPARATOR = '\u0001';

function groupOf(level: string, logger: string): string {
  return `${level}${GROUP_SEPARATOR}${logger}`;
}

function splitGroup(group: string): { level: string; logger: string } {
  const at = group.indexOf(GROUP_SEPARATOR);
  return { level: group.slice(0, at), logger: group.slice(at + 1) };
}

function toSignature(cluster: Cluster<Seen>): Signature {
  const { level, logger } = splitGroup(cluster.group);
  const template = cluster.tokens.join(' ');
  const { count, firstSeen, lastSeen, examples } = cluster.payload;
  return {
    id: signatureId(level, logger, template),
    level,
    logger,
    template,
    count,
    firstSeen,
    lastSeen,
    examples,
  };
}

function tokensOf(entry: LogLine, options: EventOptions): { group: string; tokens: string[] } {
  const event = readEvent(entry, options);
  return { group: groupOf(event.level, event.logger), tokens: tokenize(maskMessage(event.message)) };
}

function bySize(a: Signature, b: Signature): number {
  return b.count - a.count || a.firstSeen - b.firstSeen;
}

function finishOther(other: Seen): OtherBucket | null {
  return other.count === 0
    ? null
    : { count: other.count, firstSeen: other.firstSeen, examples: other.examples };
}

/**
 * Clusters lines into signatures, most frequent first.
 *
 * @example
 *   clusterLines([{ at: 1, line: 'order 12 failed' }, { at: 2, line: 'order 13 failed' }]).signatures
 *   // [{ template: 'order <NUM> failed', count: 2, firstSeen: 1, … }]
 */
export function clusterLines(lines: readonly LogLine[], options: ClusterOptions = {}): SignatureSet {
  const tree = new DrainTree<Seen>({ maxClusters: options.maxSignatures ?? 1_000 });
  const other = seen();
  for (const entry of lines) {
    const { group, tokens } = tokensOf(entry, options);
    const cluster = tree.add(group, tokens, seen);
    record(cluster?.payload ?? other, entry);
  }
  return {
    signatures: tree.clusters.map(toSignature).sort(bySize),
    lines: lines.length,
    other: finishOther(other),
  };
}

/** A known signature as the new version showed it: the stored one, and this window's occurrences. */
export interface KnownSignature {
  stored: StoredSignature;
  current: Signature;
  /** True when it is known because an operator marked it "not a risk" (not because the baseline had it). */
  ignored: boolean;
}

/** The new version's lines against what was known. */
export interface Classification {
  lines: number;
  known: KnownSignature[];
  /** Signatures no stored template takes. */
  fresh: Signature[];
  /** Lines matching a signature an operator marked "always fail", by that signature. */
  alwaysFail: KnownSignature[];
  other: OtherBucket | null;
}

/** What the new version's lines are compared with. */
export interface Reference {
  baseline: readonly StoredSignature[];
  ignored?: readonly StoredSignature[];
  alwaysFail?: readonly StoredSignature[];
}

interface Tracked {
  stored: StoredSignature;
  ignored: boolean;
  seen: Seen;
}

function seedTree(tree: DrainTree<Tracked>, signatures: readonly StoredSignature[], ignored: boolean): void {
  for (const stored of signatures) {
    const group = groupOf(stored.level, stored.logger);
    tree.insert(group, stored.template === '' ? [] : stored.template.split(' '), {
      stored,
      ignored,
      seen: seen(),
    });
  }
}

function finishKnown(tree: DrainTree<Tracked>): KnownSignature[] {
  return tree.clusters
    .filter((c) => c.payload.seen.count > 0)
    .map((c) => {
      const { stored, ignored } = c.payload;
      const { count, firstSeen, lastSeen, examples } = c.payload.seen;
      const { id, level, logger, template } = stored;
      return {
        stored,
        ignored,
        current: { id, level, logger, template, count, firstSeen, lastSeen, examples },
      };
    })
    .sort((a, b) => bySize(a.current, b.current));
}

/**
 * Classifies a new version's lines: known (a baseline or "not a risk" template takes them), always-fail
 * (an operator's "always fail" template takes them, baseline or not), or new (clustered afresh).
 *
 * @example
 *   const baseline = clusterLines(before).signatures;
 *   const { fresh } = classifyLines(after, { baseline });
 *   fresh.map((s) => s.template) // ['KeyError: <STR>']
 */
export function classifyLines(
  lines: readonly LogLine[],
  reference: Reference,
  options: ClusterOptions = {},
): Classification {
  const maxClusters = Number.MAX_SAFE_INTEGER;
  const known = new DrainTree<Tracked>({ maxClusters });
  seedTree(known, reference.baseline, false);
  seedTree(known, reference.ignored ?? [], true);
  const failing = new DrainTree<Tracked>({ maxClusters });
  seedTree(failing, reference.alwaysFail ?? [], false);
  const fresh = new DrainTree<Seen>({ maxClusters: options.maxSignatures ?? 1_000 });
  const other = seen();
  for (const entry of lines) {
    const { group, tokens } = tokensOf(entry, options);
    const hit = failing.match(group, tokens) ?? known.match(group, tokens);
    if (hit !== undefined) {
      record(hit.payload.seen, entry);
      continue;
    }
    const cluster = fresh.add(group, tokens, seen);
    record(cluster?.payload ?? other, entry);
  }
  return {
    lines: lines.length,
    known: finishKnown(known),
    fresh: fresh.clusters.map(toSignature).sort(bySize),
    alwaysFail: finishKnown(failing),
    other: finishOther(other),
  };
}
