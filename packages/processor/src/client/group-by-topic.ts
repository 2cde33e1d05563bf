/** Items (records, offsets, partitions) grouped by their topic, in first-seen order. */
export function groupByTopic<T extends { readonly topic: string }>(
  items: readonly T[],
): Map<string, T[]> {
  const byTopic = new Map<string, T[]>();
  for (const item of items) {
    const list = byTopic.get(item.topic);
    if (list) list.push(item);
    else byTopic.set(item.topic, [item]);
  }
  return byTopic;
}
