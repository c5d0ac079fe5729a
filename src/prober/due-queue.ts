/**
 * A binary min-heap of items by due time: the scheduler's next run in O(1), each reschedule in O(log n),
 * so 10,000 probes cost no more per wake-up than ten.
 *
 * @example
 *   const q = new DueQueue<string>(); q.push('a', 20); q.push('b', 10); q.peekDueAt() // 10
 */
export class DueQueue<T> {
  #items: { item: T; dueAt: number }[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** The earliest due time, or +Infinity when empty. */
  peekDueAt(): number {
    return this.#items[0]?.dueAt ?? Number.POSITIVE_INFINITY;
  }

  push(item: T, dueAt: number): void {
    const items = this.#items;
    items.push({ item, dueAt });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as { dueAt: number }).dueAt <= dueAt) break;
      [items[i], items[parent]] = [
        items[parent] as { item: T; dueAt: number },
        items[i] as { item: T; dueAt: number },
      ];
      i = parent;
    }
  }

  /** Removes and returns the earliest entry. */
  pop(): { item: T; dueAt: number } | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    for (let i = 0; ; ) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (
        left < items.length &&
        (items[left] as { dueAt: number }).dueAt < (items[smallest] as { dueAt: number }).dueAt
      )
        smallest = left;
      if (
        right < items.length &&
        (items[right] as { dueAt: number }).dueAt < (items[smallest] as { dueAt: number }).dueAt
      )
        smallest = right;
      if (smallest === i) break;
      [items[i], items[smallest]] = [
        items[smallest] as { item: T; dueAt: number },
        items[i] as { item: T; dueAt: number },
      ];
      i = smallest;
    }
    return top;
  }
}
