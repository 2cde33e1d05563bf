// How many final results workload (w) of the peer benchmark ends with, counted from the
// readings as they are produced, so that each contender's count can be checked.
import { Partitioners, type PartitionMetadata } from "kafkajs";

/**
 * Follows the readings in the order they are produced, per input partition (chosen as the
 * producer's default partitioner chooses it), with the rules Kafka Streams and toka
 * share: a partition's stream time is its highest timestamp so far; a window is closed
 * once stream time reached its end + grace, and a reading whose window is closed changes
 * nothing. At the end, a window that took a reading has a final result once its
 * partition's stream time reached its end + grace; the last windows, still in their
 * grace, have none, since no later reading moves stream time past them.
 */
export class ExpectedFinals {
  private readonly partitionOf: ReturnType<typeof Partitioners.DefaultPartitioner>;
  private readonly metadata: PartitionMetadata[];
  private readonly streamTime: number[];
  /** Per partition: the windows that took a reading, `key@start` to their end. */
  private readonly windows: Map<string, number>[];

  constructor(
    private readonly topic: string,
    partitions: number,
    private readonly sizeMs: number,
    private readonly graceMs: number,
  ) {
    this.partitionOf = Partitioners.DefaultPartitioner();
    this.metadata = Array.from({ length: partitions }, (_, partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
    }));
    this.streamTime = this.metadata.map(() => -1);
    this.windows = this.metadata.map(() => new Map());
  }

  /** Counts one reading, in the order of production. */
  observe(key: string, timestamp: number): void {
    const partition = this.partitionOf({
      topic: this.topic,
      partitionMetadata: this.metadata,
      message: { key, value: null },
    });
    const streamTime = Math.max(this.streamTime[partition]!, timestamp);
    this.streamTime[partition] = streamTime;
    const start = Math.floor(timestamp / this.sizeMs) * this.sizeMs;
    const end = start + this.sizeMs;
    if (end + this.graceMs <= streamTime) return;
    this.windows[partition]!.set(`${key}@${start}`, end);
  }

  /** The final results once every reading was processed. */
  get count(): number {
    let finals = 0;
    this.windows.forEach((windows, partition) => {
      for (const end of windows.values())
        if (end + this.graceMs <= this.streamTime[partition]!) finals++;
    });
    return finals;
  }
}
