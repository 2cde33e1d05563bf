import type { IncomingRecord } from "./client/kafka-client.js";
import { TokaError, TokaErrorCode } from "./errors.js";
import type { EventTimeExtractor } from "./group-graph.js";
import type { FailedMessage } from "./message-failures.js";

/** Milliseconds since the epoch as toka keeps event times: a safe integer, not negative. */
export function isEventTime(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * A message's event time: `extractor`'s answer for the decoded message, else the
 * record's Kafka timestamp; a `TOKA_INVALID_EVENT_TIME` error (for the error policy) when
 * that is not a time.
 */
export function eventTimeOf(
  extractor: EventTimeExtractor<unknown> | undefined,
  message: unknown,
  record: IncomingRecord,
  key: string,
  at: FailedMessage,
): number | TokaError {
  if (!extractor) {
    if (isEventTime(record.timestamp)) return record.timestamp;
    return new TokaError(
      TokaErrorCode.InvalidEventTime,
      `the message's Kafka timestamp is ${record.timestamp}, not a time; give the input "${at.topic}" an eventTime extractor, or have its producers set timestamps`,
      { ...at, key },
    );
  }
  let time: unknown;
  try {
    // The headers are decoded only if the extractor reads them.
    time = extractor(message, {
      key,
      timestamp: record.timestamp,
      get headers() {
        return record.headers;
      },
    });
  } catch (cause) {
    return new TokaError(
      TokaErrorCode.InvalidEventTime,
      `the eventTime extractor of input "${at.topic}" threw: ${String((cause as Error)?.message ?? cause)}`,
      { ...at, key, cause },
    );
  }
  if (isEventTime(time)) return time;
  return new TokaError(
    TokaErrorCode.InvalidEventTime,
    `the eventTime extractor of input "${at.topic}" answered ${typeof time === "number" ? time : typeof time}; it must return milliseconds since the epoch (an integer >= 0)`,
    { ...at, key },
  );
}
