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
      const version = parseVersion(record.headers[EventHeader.SchemaVersion]) ?? 1;
      try {
        return upcast && version !== schemaVersion
          ? upcast(bytes, version, record.headers)
          : codec.decode(bytes);
      } catch (cause) {
        throw new TokaError(
          TokaErrorCode.DecodeFailed,
          `the event does not decode with ${codec.name} (schema version ${version}, current ${schemaVersion})${upcast ? "" : "; if its encoding changed, raise schemaVersion and give an upcast"}`,
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

/** The {@link EventMeta} of a record. */
export function eventMeta(record: EventRecord): EventMeta {
  const h = record.headers;
  return {
    key: record.key,
    id: h["toka-id"] ?? `${record.topic}/${record.partition}/${record.offset}`,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    type: h[EventHeader.Type],
    aggregateVersion: parseVersion(h[EventHeader.AggregateVersion]),
    schemaVersion: parseVersion(h[EventHeader.SchemaVersion]) ?? 1,
    commandId: h[EventHeader.CommandId],
    headers: h,
  };
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
