import { isEventTime } from "./event-time.js";

/** The stream time of a partition no message has moved yet. */
export const NO_STREAM_TIME = -1;

/** The commit metadata toka writes: its version, then the stream time in milliseconds. */
const METADATA = /^toka\/1 stream-time=(0|[1-9][0-9]{0,15})$/;

/** The stream time an offset commit carried, if toka wrote its metadata. */
export function streamTimeOfMetadata(metadata: string | undefined): number | undefined {
  const match = metadata === undefined ? null : METADATA.exec(metadata);
  const time = match ? Number(match[1]) : undefined;
  return isEventTime(time) ? time : undefined;
}

/**
 * A partition's stream time: the highest event time of the messages its callbacks were
 * given. Kept where the partition's progress is kept, so that a restart or a new owner
 * continues from it: in the local checkpoint (written with the state it covers) and in
 * the metadata of the group's offset commits (as Kafka Streams keeps its partition time),
 * which a new owner without local state reads.
 */
export class StreamTime {
  /** {@link NO_STREAM_TIME} until a message or a stored stream time moves it. */
  current = NO_STREAM_TIME;
  /** The stream time of the last write: what a dropped write-back cache goes back to. */
  private written = NO_STREAM_TIME;

  /** Counts a message's event time. */
  observe(eventTime: number): void {
    if (eventTime > this.current) this.current = eventTime;
  }

  /** Continues from a stored stream time (a checkpoint's, a commit's), when it is later. */
  continueFrom(stored: number | undefined): void {
    if (stored === undefined || stored <= this.current) return;
    this.current = stored;
    if (stored > this.written) this.written = stored;
  }

  /** What was processed is written: a later drop goes back to here. */
  markWritten(): void {
    this.written = this.current;
  }

  /** The messages since the last write will be processed again: forget their times. */
  dropUnwritten(): void {
    this.current = this.written;
  }

  /** For a checkpoint: undefined while no message moved it. */
  get stored(): number | undefined {
    return this.current === NO_STREAM_TIME ? undefined : this.current;
  }

  /** The metadata of an offset commit; undefined while no message moved it. */
  commitMetadata(): string | undefined {
    return this.current === NO_STREAM_TIME ? undefined : `toka/1 stream-time=${this.current}`;
  }
}
