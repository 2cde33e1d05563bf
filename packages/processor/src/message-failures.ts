import type { IncomingRecord, OutgoingRecord } from "./client/kafka-client.js";
import { deadLetter } from "./dead-letter.js";
import { isTokaError, TokaError, TokaErrorCode } from "./errors.js";
import type { ProcessorEvents } from "./events.js";
import type { ErrorPolicy } from "./options.js";
import { invalidKey } from "./record-key.js";

/** Where a message failed, for its error. */
export interface FailedMessage {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** A message whose key is null or not valid UTF-8: it belongs to no key. */
export function invalidKeyError(at: FailedMessage, key: Uint8Array | null): TokaError {
  const { description, cause } = invalidKey(key);
  return new TokaError(
    TokaErrorCode.InvalidKey,
    `${description}; toka keys are UTF-8 strings, so the producers of "${at.topic}" must set a UTF-8 key (encode binary keys as hex or base64)`,
    { ...at, cause },
  );
}

/**
 * A callback's failure. toka's own errors (a misused context, a joined value that does
 * not decode) keep their code.
 */
export function callbackError(at: FailedMessage, key: string, cause: unknown): TokaError {
  if (isTokaError(cause)) return cause as TokaError;
  return new TokaError(
    TokaErrorCode.CallbackFailed,
    `the callback of "${at.topic}" failed: ${String((cause as Error)?.message ?? cause)}`,
    { ...at, key, cause },
  );
}

/** What a {@link FailurePolicy} needs of its group. */
export interface FailurePolicyOptions {
  readonly policy: ErrorPolicy;
  readonly deadLetterTopic: string;
  /** The dead-letter topic's `max.message.bytes`: larger letters are cut to fit. */
  readonly deadLetterMaxBytes: number;
  emit<E extends keyof ProcessorEvents>(event: E, ...args: ProcessorEvents[E]): void;
}

/** The group's error policy, applied to a message that cannot be processed. */
export class FailurePolicy {
  constructor(private readonly options: FailurePolicyOptions) {}

  /**
   * `fail` throws the error (the processor stops); `skip` reports the message skipped;
   * `dead-letter` reports it and returns its dead letter to produce with the batch.
   */
  apply(error: TokaError, record: IncomingRecord): OutgoingRecord | undefined {
    const { policy, emit } = this.options;
    if (policy === "fail") throw error;
    if (policy === "skip") {
      emit("message.skipped", error);
      return undefined;
    }
    emit("message.dead-lettered", error);
    return deadLetter(record, error, this.options.deadLetterTopic, this.options.deadLetterMaxBytes);
  }

  /**
   * A message too late for a windowed aggregate: dead-lettered whatever the policy, since
   * it is valid input that nothing else would keep, and reported as late.
   */
  late(error: TokaError, record: IncomingRecord): OutgoingRecord {
    this.options.emit("message.late", error);
    return deadLetter(record, error, this.options.deadLetterTopic, this.options.deadLetterMaxBytes);
  }
}
