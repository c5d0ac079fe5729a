/*
 * Drain clustering (He et al., "Drain: An Online Log Parsing Approach with Fixed Depth Tree", ICWS 2017),
 * written for Vigil. A masked message's tokens are routed down a tree of fixed depth — first by its group
 * (level and logger), then by its token count, then by its first `prefixTokens` tokens — to a leaf holding
 * a few templates; the line joins the most similar template when the share of equal tokens reaches the
 * similarity threshold, and the template's differing positions become `<*>`. Routing by the first token
 * keeps events of different verbs apart cheaply; the threshold (0.7, above the paper's 0.4, because short
 * messages are common in application logs) keeps `payment failed` and `payment declined` apart while one
 * template still absorbs an unmasked variable (a user name) in a longer message.
 *
 * Bounded: at most `maxChildren` distinct tokens per tree node (the rest share a `<*>` child) and at
 * most `maxClusters` templates in all (a line that would need one more is refused: the caller counts it
 * in an "other" bucket).
 */

/** Drain's wildcard: a position where templates saw different tokens. */
export const WILDCARD = '<*>';

/** One template and what joined it. `payload` is the caller's (a stored signature id, counts, examples). */
export interface Cluster<T> {
  group: string;
  tokens: string[];
  payload: T;
}

export interface DrainOptions {
  /** Tokens routed on before the leaf (the tree's depth minus the group and length layers); default 1. */
  prefixTokens?: number;
  /** Share of equal tokens (wildcards excluded) for a line to join a template; default 0.7. */
  similarity?: number;
  /** Distinct tokens per node before the rest share `<*>`; default 100. */
  maxChildren?: number;
  /** Templates in all; default 1,000. */
  maxClusters?: number;
}

interface TreeNode<T> {
  children: Map<string, TreeNode<T>>;
  clusters: Cluster<T>[];
}

const newNode = <T>(): TreeNode<T> => ({ children: new Map(), clusters: [] });
const HAS_DIGIT = /\d/;

/**
 * A Drain parse tree. `add` clusters (creating or widening templates), `insert` seeds a known template
 * as is, `match` finds a template without changing anything.
 *
 * @example
 *   const tree = new DrainTree<{ count: number }>();
 *   tree.add('error|', ['user', 'bob', 'not', 'found'], () => ({ count: 0 }))?.payload.count++;
 *   tree.add('error|', ['user', 'eve', 'not', 'found'], () => ({ count: 0 }))?.tokens; // ['user', '<*>', 'not', 'found']
 */
export class DrainTree<T> {
  readonly #root = new Map<string, Map<number, TreeNode<T>>>();
  readonly #prefixTokens: number;
  readonly #similarity: number;
  readonly #maxChildren: number;
  readonly #maxClusters: number;
  readonly #all: Cluster<T>[] = [];

  constructor(options: DrainOptions = {}) {
    this.#prefixTokens = options.prefixTokens ?? 1;
    this.#similarity = options.similarity ?? 0.7;
    this.#maxChildren = options.maxChildren ?? 100;
    this.#maxClusters = options.maxClusters ?? 1_000;
  }

  /** Every template, in creation order. */
  get clusters(): readonly Cluster<T>[] {
    return this.#all;
  }

  /**
   * Clusters one line: joins (and widens) the most similar template of its leaf, or starts a new one.
   * Undefined when a new template is needed and `maxClusters` are taken.
   */
  add(group: string, tokens: readonly string[], create: () => T): Cluster<T> | undefined {
    const leaf = this.#leaf(group, tokens, true);
    const best = leaf === undefined ? undefined : this.#best(leaf, tokens);
    if (best !== undefined) {
      const template = best.tokens;
      for (let i = 0; i < template.length; i++) if (template[i] !== tokens[i]) template[i] = WILDCARD;
      return best;
    }
    return this.#create(leaf, group, tokens, create);
  }

  /** Seeds a template as it is (a stored baseline signature), never merging it with another. */
  insert(group: string, tokens: readonly string[], payload: T): Cluster<T> | undefined {
    return this.#create(this.#leaf(group, tokens, true), group, tokens, () => payload);
  }

  /** The most similar template for a line, without changing the tree; undefined when none is similar enough. */
  match(group: string, tokens: readonly string[]): Cluster<T> | undefined {
    const leaf = this.#leaf(group, tokens, false);
    return leaf === undefined ? undefined : this.#best(leaf, tokens);
  }

  #create(
    leaf: TreeNode<T> | undefined,
    group: string,
    tokens: readonly string[],
    create: () => T,
  ): Cluster<T> | undefined {
    if (leaf === undefined || this.#all.length >= this.#maxClusters) return undefined;
    const cluster: Cluster<T> = { group, tokens: [...tokens], payload: create() };
    leaf.clusters.push(cluster);
    this.#all.push(cluster);
    return cluster;
  }

  #leaf(group: string, tokens: readonly string[], grow: boolean): TreeNode<T> | undefined {
    let byLength = this.#root.get(group);
    if (byLength === undefined) {
      if (!grow) return undefined;
      byLength = new Map();
      this.#root.set(group, byLength);
    }
    let node: TreeNode<T> | undefined = byLength.get(tokens.length);
    if (node === undefined) {
      if (!grow) return undefined;
      node = newNode<T>();
      byLength.set(tokens.length, node);
    }
    const depth = Math.min(this.#prefixTokens, tokens.length);
    for (let i = 0; i < depth; i++) {
      const token = tokens[i] as string;
      const next: TreeNode<T> | undefined =
        node.children.get(token) ?? (grow ? undefined : node.children.get(WILDCARD));
      if (next !== undefined) {
        node = next;
        continue;
      }
      if (!grow) return undefined;
      // A token holding digits is a variable that escaped masking: it routes to the wildcard child.
      const key = HAS_DIGIT.test(token) || node.children.size >= this.#maxChildren ? WILDCARD : token;
      let child = node.children.get(key);
      if (child === undefined) {
        child = newNode<T>();
        node.children.set(key, child);
      }
      node = child;
    }
    return node;
  }

  #best(leaf: TreeNode<T>, tokens: readonly string[]): Cluster<T> | undefined {
    let best: Cluster<T> | undefined;
    let bestScore = -1;
    let bestWildcards = -1;
    for (const cluster of leaf.clusters) {
      const template = cluster.tokens;
      let equal = 0;
      let wildcards = 0;
      for (let i = 0; i < template.length; i++) {
        if (template[i] === WILDCARD) wildcards++;
        else if (template[i] === tokens[i]) equal++;
      }
      // An empty message matches the one empty template of its group.
      const score = template.length === 0 ? 1 : equal / template.length;
      // A template widened by many lines takes a line that agrees with every token it kept, even when
      // its wildcards bring the share of equal tokens under the threshold.
      const agrees = equal > 0 && equal + wildcards === template.length;
      if (score < this.#similarity && !agrees) continue;
      if (score > bestScore || (score === bestScore && wildcards > bestWildcards)) {
        best = cluster;
        bestScore = score;
        bestWildcards = wildcards;
      }
    }
    return best;
  }
}
