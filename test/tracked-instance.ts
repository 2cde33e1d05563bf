import type { Processor } from "@toka/processor";
import { onTestFinished } from "vitest";

/** A started processor with what its events said about its partitions. */
export interface TrackedInstance {
  readonly processor: Processor;
  /** The partitions it owns now. */
  readonly owned: Set<number>;
  /** Table records each partition's last recovery read here, by partition. */
  readonly restored: Map<number, number>;
}

/** Starts `processor` (closed when the test ends), following its partitions' events. */
export async function startTracked(processor: Processor): Promise<TrackedInstance> {
  const instance = { processor, owned: new Set<number>(), restored: new Map<number, number>() };
  processor.on("partition.assigned", ({ partition }) => instance.owned.add(partition));
  processor.on("partition.revoked", ({ partition }) => instance.owned.delete(partition));
  processor.on("partition.recovered", ({ partition, records }) =>
    instance.restored.set(partition, records),
  );
  onTestFinished(() => processor.close());
  await processor.start();
  return instance;
}
