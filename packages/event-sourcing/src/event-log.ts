import type { Codec } from "@toka/codec";
import { TokaError, TokaErrorCode } from "@toka/processor";
import { EventHeader } from "./headers.js";

/** What a fold sees of an event besides the event itself. */
export interface EventMeta {
  /** The record key: the aggregate ID. */
  readonly key: string;
  /** The event's message ID (`toka-id`), or `<topic>/<partition>/<offset>` without one. */
  readonly id: string;
  readonly partition: number;
  /** Kafka offset, a decimal string. */
  readonly offset: string;
  /** Kafka timestamp in milliseconds since the epoch: when the aggregate wrote the event. */
  readonly timestamp: number;
  /** `toka-event-type`, when present. */
  readonly type: string | undefined;
  /** `toka-aggregate-version`: the aggregate's version after this event, when present. */
  readonly aggregateVersion: number | undefined;
  /** `toka-event-version`: the schema version the event was written with (1 when absent). */
  readonly schemaVersion: number;
  /** `toka-command-id`: the command that caused the event, when present. */
  readonly commandId: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
}

/** A record of an event log as the readers of this package see it. */
export interface EventRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string;
  readonly timestamp: number;
  readonly headers: Readonly<Record<string, string>>;
}

/** Options of {@link eventLog}. */
export interface EventLogOptions<E> {
  /**
   * The schema version new events are written with (`toka-event-version`). Raise it
   * when the encoding of events changes incompatibly and give {@link upcast}. Default 1.
   */
  readonly schemaVersion?: number;
  /**
   * Turns the bytes of an event written with another schema version into the current
   * event type. Called only for records whose `toka-event-version` differs from
   * {@link schemaVersion}; without it, such records are decoded with the codec as they are.
   */
  readonly upcast?: (
    bytes: Uint8Array,
    schemaVersion: number,
    headers: Readonly<Record<string, string>>,
  ) => E;
  /**
   * The type written to `toka-event-type`. Default: the event's string field `type`;
   * else the `case` of a protobuf oneof named `event`, `kind` or `payload`; else the
   * protobuf type name; else `"event"`.
   */
  readonly eventType?: (event: E) => string;
}

/** An event log: its topic, its codec and how old events are read (**contract**). */
export interface EventLog<E> {
  readonly topic: string;
  readonly codec: Codec<E>;
  readonly schemaVersion: number;
  /** The type written to `toka-event-type`. */
  eventType(event: E): string;
  /**
   * Decodes an event, upcasting one written with another schema version.
   * @throws TokaError `TOKA_DECODE_FAILED` with the record's coordinates.
   */
  decode(bytes: Uint8Array, record: EventRecord): E;
}

/**
 * Declares an event log: the topic holding the events and how they are encoded.
 * Aggregates create theirs (`aggregate.log`); use this for a log another program writes.
 * @throws TokaError `TOKA_INVALID_CONFIG` for a schema version that is not a positive integer.
 */
export function eventLog<E>(
  topic: string,
  codec: Codec<E>,
  options: EventLogOptions<E> = {},
): EventLog<E> {
  const schemaVersion = options.schemaVersion ?? 1;
  if (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1) {
    throw new TokaError(
      TokaErrorCode.InvalidConfig,
      `event log "${topic}": schemaVersion must be a positive integer, got ${schemaVersion}`,
      { topic },
    );
  }
  const { upcast } = options;
  return {
    topic,
    codec,
    schemaVersion,
    eventType: options.eventType ?? defaultEventType,
    decode(bytes, record) {
      // Without an upcaster every version is decoded alike: no need to read the header.
      const version = upcast ? (parseVersion(record.headers[EventHeader.SchemaVersion]) ?? 1) : 0;
      try {
        return upcast && version !== schemaVersion
          ? upcast(bytes, version, record.headers)
          : codec.decode(bytes);
      } catch (cause) {
        const written = parseVersion(record.headers[EventHeader.SchemaVersion]) ?? 1;
        throw new TokaError(
          TokaErrorCode.DecodeFailed,
          `the event does not decode with ${codec.name} (schema version ${written}, current ${schemaVersion})${upcast ? "" : "; if its encoding changed, raise schemaVersion and give an upcast"}`,
          {
            cause,
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
            key: record.key,
          },
        );
      }
    },
  };
}

/**
 * The {@link EventMeta} of a record. Fields are read from the headers when first used:
 * folds that look at none of them (most do not) cost no header parsing.
 */
export function eventMeta(record: EventRecord): EventMeta {
  return new RecordMeta(record);
}

class RecordMeta implements EventMeta {
  constructor(private readonly record: EventRecord) {}
  get key() {
    return this.record.key;
  }
  get id() {
    const r = this.record;
    return r.headers["toka-id"] ?? `${r.topic}/${r.partition}/${r.offset}`;
  }
  get partition() {
    return this.record.partition;
  }
  get offset() {
    return this.record.offset;
  }
  get timestamp() {
    return this.record.timestamp;
  }
  get type() {
    return this.record.headers[EventHeader.Type];
  }
  get aggregateVersion() {
    return parseVersion(this.record.headers[EventHeader.AggregateVersion]);
  }
  get schemaVersion() {
    return parseVersion(this.record.headers[EventHeader.SchemaVersion]) ?? 1;
  }
  get commandId() {
    return this.record.headers[EventHeader.CommandId];
  }
  get headers() {
    return this.record.headers;
  }
  /** Plain data for logs and JSON. */
  toJSON(): EventMeta {
    const {
      key,
      id,
      partition,
      offset,
      timestamp,
      type,
      aggregateVersion,
      schemaVersion,
      commandId,
      headers,
    } = this;
    return {
      key,
      id,
      partition,
      offset,
      timestamp,
      type,
      aggregateVersion,
      schemaVersion,
      commandId,
      headers,
    };
  }
}

function parseVersion(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

function defaultEventType(event: unknown): string {
  if (typeof event !== "object" || event === null) return "event";
  const e = event as Record<string, unknown>;
  if (typeof e.type === "string") return e.type;
  for (const field of ["event", "kind", "payload"]) {
    const oneof = e[field] as { case?: unknown } | undefined;
    if (typeof oneof?.case === "string") return oneof.case;
  }
  if (typeof e.$typeName === "string") return e.$typeName;
  return "event";
}
