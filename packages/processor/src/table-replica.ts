import type { Storage } from "@toka/state-store";
import type { IncomingRecord } from "./client/kafka-client.js";
import { TokaError, TokaErrorCode } from "./errors.js";
import type { Logger } from "./logger.js";
import { keyText, warnInvalidTableKey } from "./record-key.js";
import { addToOffset, compareOffsets } from "./table-entry.js";

/**
 * A local copy of one partition of another group's table, for `ctx.join`: recovered
 * from its checkpoint to the high watermark before the partition processes inputs,
 * then kept following. Values are stored as the table's bytes.
 */
export class TableReplica {
  /** Next offset of the table partition to apply. */
  position = "0";
  private target = "0";

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly storage: Storage,
    private readonly logger: Logger,
    /** The group whose partition this copy belongs to, for log lines. */
    private readonly group: string,
  ) {}

  get recovered(): boolean {
    return compareOffsets(this.position, this.target) >= 0;
  }

  /** Opens storage; returns the offset to read from. */
  async open(): Promise<string> {
    try {
      await this.storage.open();
      this.position = (await this.storage.checkpoint())?.tableOffset ?? "0";
    } catch (cause) {
      throw new TokaError(
        TokaErrorCode.StorageFailed,
        "cannot open the local copy of a joined table",
        {
          topic: this.topic,
          partition: this.partition,
          cause,
        },
      );
    }
    return this.position;
  }

  /** Recovery ends once `highWatermark` (taken at assignment) is reached. */
  recoverTo(highWatermark: string): void {
    this.target = highWatermark;
  }

  /** Applies a batch of table records in one atomic write. */
  async apply(records: readonly IncomingRecord[]): Promise<void> {
    const puts = new Map<string, Uint8Array>();
    const deletes = new Set<string>();
    let next = this.position;
    for (const record of records) {
      if (compareOffsets(record.offset, this.position) < 0) continue;
      const key = keyText(record.key);
      if (key === undefined) {
        warnInvalidTableKey(this.logger, record, this.group);
      } else if (record.value === null) {
        puts.delete(key);
        deletes.add(key);
      } else {
        deletes.delete(key);
        puts.set(key, record.value);
      }
      next = addToOffset(record.offset, 1);
    }
    if (next === this.position) return;
    await this.storage.write({
      puts,
      deletes,
      checkpoint: { tableOffset: next, inputOffsets: {} },
    });
    this.position = next;
  }

  /** Told after each handled batch, also ones holding only transaction markers. */
  noteProgress(lastOffset: string): void {
    const next = addToOffset(lastOffset, 1);
    if (compareOffsets(next, this.position) > 0 && compareOffsets(next, this.target) >= 0)
      this.position = next;
  }

  /** The stored bytes of `keys`, in one storage read. */
  async read(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    const values = await this.storage.getMany(keys);
    const found = new Map<string, Uint8Array>();
    keys.forEach((key, i) => {
      const value = values[i];
      if (value) found.set(key, value);
    });
    return found;
  }

  close(): Promise<void> {
    return this.storage.close();
  }
}
