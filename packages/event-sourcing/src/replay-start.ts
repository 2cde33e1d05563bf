import { TokaError, TokaErrorCode } from "@toka/processor";
import type { ClientAdmin } from "@toka/processor/kafka";

/** Where a replay starts reading the event log. */
export type ReplayFrom =
  | { readonly kind: "beginning" }
  /** Offsets per partition; partitions not named start at the beginning. */
  | { readonly kind: "offsets"; readonly offsets: Readonly<Record<number, string | number>> }
  /** The first event at or after this time, per partition. */
  | { readonly kind: "time"; readonly time: number };

/** Replay from the start of the log. */
export function fromBeginning(): ReplayFrom {
  return { kind: "beginning" };
}

/** Replay from these offsets (`{ 0: 120, 3: "4711" }`); other partitions from the beginning. */
export function fromOffsets(offsets: Readonly<Record<number, string | number>>): ReplayFrom {
  return { kind: "offsets", offsets };
}

/** Replay the events written at or after `time` (a `Date` or ms since the epoch). */
export function fromTime(time: Date | number): ReplayFrom {
  return { kind: "time", time: typeof time === "number" ? time : time.getTime() };
}

/** One partition's range to read: `[start, end)`. */
export interface PartitionRange {
  readonly partition: number;
  readonly start: string;
  /** The high watermark when the range was taken. */
  readonly end: string;
}

/**
 * The ranges of `topic` to read from `from` up to the current high watermarks. Starts
 * before the log start (deleted records) move up to it; starts past the end move down.
 * @throws TokaError `TOKA_INVALID_ARGUMENT` for an offset that is not a non-negative
 * integer, a partition the topic does not have, or a time that is not a valid date.
 */
export async function partitionRanges(
  admin: ClientAdmin,
  topic: string,
  from: ReplayFrom,
): Promise<PartitionRange[]> {
  const marks = await admin.watermarks(topic);
  let wanted = new Map<number, bigint>();
  if (from.kind === "offsets") {
    for (const [partition, offset] of Object.entries(from.offsets)) {
      const p = Number(partition);
      if (!marks.some((m) => m.partition === p)) {
        throw new TokaError(
          TokaErrorCode.InvalidArgument,
          `partition ${partition} does not exist; ${topic} has partitions 0..${marks.length - 1}`,
          { topic },
        );
      }
      if (!/^\d+$/.test(String(offset))) {
        throw new TokaError(
          TokaErrorCode.InvalidArgument,
          `offset "${offset}" of partition ${partition} is not a non-negative integer`,
          { topic, partition: p },
        );
      }
      wanted.set(p, BigInt(offset));
    }
  } else if (from.kind === "time") {
    if (!Number.isFinite(from.time)) {
      throw new TokaError(
        TokaErrorCode.InvalidArgument,
        "the replay's start time is not a valid date",
        {
          topic,
        },
      );
    }
    wanted = new Map(
      [...(await admin.offsetsForTime(topic, from.time))].map(([p, o]) => [p, BigInt(o)]),
    );
  }
  return marks
    .map((m) => {
      const low = BigInt(m.low);
      const high = BigInt(m.high);
      const start = wanted.get(m.partition) ?? low;
      const clamped = start < low ? low : start > high ? high : start;
      return { partition: m.partition, start: clamped.toString(), end: m.high };
    })
    .sort((a, b) => a.partition - b.partition);
}
