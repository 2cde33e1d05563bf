/** Brand shared by every toka error class across packages (see `@toka/codec`). */
const TOKA_ERROR_BRAND = Symbol.for("toka.error");

/** The closed set of codes of {@link TokaError}. */
export const TokaErrorCode = {
  /** The group graph or the options are invalid; the message says what to change. */
  InvalidConfig: "TOKA_INVALID_CONFIG",
  /** A topic the group needs does not exist and may not be created. */
  TopicMissing: "TOKA_TOPIC_MISSING",
  /** Inputs, loop or table of a group have different partition counts. */
  NotCopartitioned: "TOKA_NOT_COPARTITIONED",
  /** A message could not be decoded with its topic's codec. */
  DecodeFailed: "TOKA_DECODE_FAILED",
  /**
   * A message's key is null or not valid UTF-8: toka's keys are UTF-8 strings, so it
   * belongs to no key. Handled by the error policy; its producer must set a UTF-8 key.
   */
  InvalidKey: "TOKA_INVALID_KEY",
  /** A callback threw or called `ctx.fail()`. */
  CallbackFailed: "TOKA_CALLBACK_FAILED",
  /**
   * A message has no event time: its input's `eventTime` extractor threw or answered
   * something other than milliseconds since the epoch, or its record has no timestamp.
   * Handled by the error policy.
   */
  InvalidEventTime: "TOKA_INVALID_EVENT_TIME",
  /**
   * A message came for windows of a windowed aggregate that had all closed (stream time
   * passed their end plus grace). Always dead-lettered, whatever the error policy: raise
   * the aggregate's `graceMs` to accept records that late.
   */
  LateRecord: "TOKA_LATE_RECORD",
  /** A callback used the context wrongly (undeclared topic, no table, ...). */
  ContextMisuse: "TOKA_CONTEXT_MISUSE",
  /** Producing to Kafka failed after retries. */
  ProduceFailed: "TOKA_PRODUCE_FAILED",
  /**
   * A transactional producer was fenced by a newer one with the same transactional id:
   * another instance owns the partition now. The instance rejoins its group.
   */
  ProducerFenced: "TOKA_PRODUCER_FENCED",
  /** Reading or writing local storage failed. */
  StorageFailed: "TOKA_STORAGE_FAILED",
  /** Recovering a table partition failed. */
  RecoveryFailed: "TOKA_RECOVERY_FAILED",
  /** The Kafka client failed (connection, group membership, ...). */
  KafkaFailed: "TOKA_KAFKA_FAILED",
  /**
   * A broker rejected the SASL credentials or mechanism; the message names the broker and
   * the mechanism. Fix the `sasl` option (username, password, mechanism).
   */
  AuthenticationFailed: "TOKA_AUTHENTICATION_FAILED",
  /**
   * The TLS handshake with a broker failed (a certificate signed by a CA not trusted, a
   * name that does not match, a port that does not speak TLS); the message names the
   * broker and the cause. Fix the `ssl` option (`ca`, `servername`).
   */
  TlsFailed: "TOKA_TLS_FAILED",
  /**
   * The broker's authorizer denied an operation (an ACL is missing); the message names
   * the operation and the topic or group. Grant the ACL to the client's principal.
   */
  AuthorizationFailed: "TOKA_AUTHORIZATION_FAILED",
  /** An operation was called in a state that does not allow it (e.g. emit after close). */
  InvalidState: "TOKA_INVALID_STATE",
  /** Waiting for something took longer than allowed. */
  Timeout: "TOKA_TIMEOUT",
  /** A method was called with an invalid argument (e.g. a partition the table does not have). */
  InvalidArgument: "TOKA_INVALID_ARGUMENT",
  /**
   * A query service did not answer a query, or answered with an error (a 503 while a
   * rebalance moves the key's owner is retriable); the message has its answer.
   */
  QueryFailed: "TOKA_QUERY_FAILED",
} as const;
export type TokaErrorCode = (typeof TokaErrorCode)[keyof typeof TokaErrorCode];

/** The Kafka coordinates an error concerns; each one known is set. */
export interface ErrorCoordinates {
  group?: string | undefined;
  topic?: string | undefined;
  partition?: number | undefined;
  offset?: string | undefined;
  key?: string | undefined;
}

/** Options of {@link TokaError}. */
export interface TokaErrorOptions extends ErrorCoordinates {
  cause?: unknown;
  /** Whether retrying the same operation may succeed. Default `false`. */
  retriable?: boolean;
}

/**
 * The root of toka's errors: a `code` from {@link TokaErrorCode}, the `cause`, whether it
 * is `retriable`, and the Kafka coordinates it concerns, which the message repeats.
 */
export class TokaError extends Error {
  override readonly name: string = "TokaError";
  readonly code: TokaErrorCode;
  readonly retriable: boolean;
  readonly group: string | undefined;
  readonly topic: string | undefined;
  readonly partition: number | undefined;
  readonly offset: string | undefined;
  readonly key: string | undefined;
  readonly [TOKA_ERROR_BRAND] = true;

  constructor(code: TokaErrorCode, message: string, options: TokaErrorOptions = {}) {
    super(withCoordinates(message, options), { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.group = options.group;
    this.topic = options.topic;
    this.partition = options.partition;
    this.offset = options.offset;
    this.key = options.key;
  }
}

/**
 * True for any toka error, from this package or another (`CodecError`,
 * `StorageError`), even from another copy of the package: checks the shared brand and
 * `code`, not `instanceof`.
 */
export function isTokaError(error: unknown): error is TokaError {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as Record<symbol, unknown>)[TOKA_ERROR_BRAND] === true &&
    typeof (error as { code?: unknown }).code === "string"
  );
}

/**
 * The message at the bottom of an error's `cause` chain (e.g. `connect ECONNREFUSED
 * 127.0.0.1:9092`): what an error that gave up after retries names as the last failure,
 * keeping the whole chain as its `cause`.
 */
export function rootMessage(error: unknown): string {
  let e = error;
  while ((e as { cause?: unknown } | null)?.cause !== undefined)
    e = (e as { cause: unknown }).cause;
  return e instanceof Error ? e.message : String(e);
}

/** The error's code if it is a toka error, else `undefined`. */
export function tokaErrorCode(error: unknown): string | undefined {
  return isTokaError(error) ? error.code : undefined;
}

function withCoordinates(message: string, c: ErrorCoordinates): string {
  const parts: string[] = [];
  if (c.group !== undefined) parts.push(`group=${c.group}`);
  if (c.topic !== undefined) parts.push(`topic=${c.topic}`);
  if (c.partition !== undefined) parts.push(`partition=${c.partition}`);
  if (c.offset !== undefined) parts.push(`offset=${c.offset}`);
  if (c.key !== undefined) parts.push(`key=${JSON.stringify(c.key)}`);
  return parts.length === 0 ? message : `${message} [${parts.join(" ")}]`;
}
