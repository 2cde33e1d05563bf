/**
 * Brand shared by every toka error class across packages. Guards check it (or `name`
 * and `code`) instead of `instanceof`, so two copies of a package still agree.
 */
export const TOKA_ERROR_BRAND = Symbol.for("toka.error");

/** Codes of {@link CodecError}. */
export const CodecErrorCode = {
  /** The bytes are not a valid encoding (malformed JSON, truncated protobuf, bad UTF-8). */
  Malformed: "CODEC_MALFORMED",
  /** The bytes decode, but the value violates the schema. */
  SchemaViolation: "CODEC_SCHEMA_VIOLATION",
  /** A value given to `encode` cannot be encoded (violates the schema, not serializable). */
  EncodeFailed: "CODEC_ENCODE_FAILED",
  /** The input is larger than the codec accepts. */
  TooLarge: "CODEC_TOO_LARGE",
  /** A codec factory was given invalid options; thrown at construction, never per message. */
  InvalidOptions: "CODEC_INVALID_OPTIONS",
} as const;
export type CodecErrorCode = (typeof CodecErrorCode)[keyof typeof CodecErrorCode];

/** Kafka coordinates a caller (the processor) adds to a codec error. */
export interface ErrorCoordinates {
  /** The consumer group. */
  group?: string;
  /** The topic of the record. */
  topic?: string;
  /** The partition of the record. */
  partition?: number;
  /** The offset of the record, as a string (Kafka offsets are 64-bit). */
  offset?: string;
  /** The record's key as text. */
  key?: string;
}

/** Options of the {@link CodecError} constructor. */
export interface CodecErrorOptions {
  /** The underlying error: a `ZodError` (with its `issues`), a `SyntaxError`, a protobuf-es error. */
  cause?: unknown;
  /** Where the failing record came from, when known. */
  coordinates?: ErrorCoordinates;
}

const COORDINATE_NAMES = ["group", "topic", "partition", "offset", "key"] as const;
const ALL_CODES: ReadonlySet<string> = new Set(Object.values(CodecErrorCode));
/** Keys can be long binary blobs; the message shows their start only. */
const MAX_KEY_CHARS = 64;

/**
 * The one error a codec throws: bad bytes on decode, a bad value on encode, or bad
 * options at construction. Never retriable: the same bytes fail the same way again, so
 * the processor applies its bad-input policy (fail, skip or dead-letter) instead of
 * retrying.
 *
 * The message reads `<codec>: <what is wrong and how to fix it>`, followed by the
 * coordinates when known, e.g.
 * `json(Deposit): the value does not match the schema: amount: expected number (topic=deposits partition=3 offset=42)`.
 */
export class CodecError extends Error {
  /** Always `"CodecError"`; {@link isCodecError} checks it. */
  override readonly name = "CodecError" as const;
  /** What kind of failure this is; see {@link CodecErrorCode}. */
  readonly code: CodecErrorCode;
  /** The {@link Codec.name} of the codec that failed, e.g. `protobuf(bank.v1.Event)`. */
  readonly codec: string;
  /** The failure without the codec name and coordinates. */
  readonly detail: string;
  /** Always `false`: decoding the same bytes again fails again. */
  readonly retriable = false as const;
  // The coordinates are own enumerable fields only when known (`declare`: no field is
  // created for an unknown one), so structured loggers show exactly what is known.
  /** The consumer group that read the record, when known. */
  declare readonly group?: string;
  /** The topic the record came from or was meant for, when known. */
  declare readonly topic?: string;
  /** The record's partition, when known. */
  declare readonly partition?: number;
  /** The record's offset (a string, as Kafka clients give it), when known. */
  declare readonly offset?: string;
  /** The record's key as text, when known; the message shows at most its first 64 characters. */
  declare readonly key?: string;
  /** Marks every toka error, across packages and copies of them. Always `true`. */
  readonly [TOKA_ERROR_BRAND] = true as const;

  /**
   * @param code - the failure kind.
   * @param codec - the failing codec's name.
   * @param detail - what is wrong and how to fix it, without the codec name.
   * @param options - `cause` (chained as the standard `Error.cause`) and coordinates.
   */
  constructor(
    code: CodecErrorCode,
    codec: string,
    detail: string,
    options: CodecErrorOptions = {},
  ) {
    const coordinates = options.coordinates ?? {};
    super(
      `${codec}: ${detail}${formatCoordinates(coordinates)}`,
      "cause" in options ? { cause: options.cause } : undefined,
    );
    this.code = code;
    this.codec = codec;
    this.detail = detail;
    for (const name of COORDINATE_NAMES) {
      const value = coordinates[name];
      if (value !== undefined) Object.defineProperty(this, name, { value, enumerable: true });
    }
  }

  /** The coordinates this error carries (only those that are set). */
  get coordinates(): ErrorCoordinates {
    const out: Record<string, unknown> = {};
    for (const name of COORDINATE_NAMES) {
      if (this[name] !== undefined) out[name] = this[name];
    }
    return out as ErrorCoordinates;
  }

  /**
   * A copy of this error with `coordinates` merged over the ones it has (an `undefined`
   * entry keeps the old value). The copy's message repeats them; code, codec, detail,
   * cause and stack frames stay the same. The processor calls this once it knows where
   * the bytes came from.
   */
  withCoordinates(coordinates: ErrorCoordinates): CodecError {
    const merged: Record<string, unknown> = { ...this.coordinates };
    for (const name of COORDINATE_NAMES) {
      if (coordinates[name] !== undefined) merged[name] = coordinates[name];
    }
    const options: CodecErrorOptions = { coordinates: merged as ErrorCoordinates };
    if ("cause" in this) options.cause = this.cause;
    const copy = new CodecError(this.code, this.codec, this.detail, options);
    const header = `${this.name}: ${this.message}`;
    if (this.stack?.startsWith(header)) {
      copy.stack = `${copy.name}: ${copy.message}${this.stack.slice(header.length)}`;
    }
    return copy;
  }
}

/**
 * True when `e` is a {@link CodecError}, from this copy of `@toka/codec` or another one:
 * it checks `name` and `code`, not `instanceof`.
 */
export function isCodecError(e: unknown): e is CodecError {
  if (typeof e !== "object" || e === null) return false;
  const { name, code } = e as { name?: unknown; code?: unknown };
  return name === "CodecError" && typeof code === "string" && ALL_CODES.has(code);
}

function formatCoordinates(c: ErrorCoordinates): string {
  const parts: string[] = [];
  if (c.group !== undefined) parts.push(`group=${c.group}`);
  if (c.topic !== undefined) parts.push(`topic=${c.topic}`);
  if (c.partition !== undefined) parts.push(`partition=${c.partition}`);
  if (c.offset !== undefined) parts.push(`offset=${c.offset}`);
  if (c.key !== undefined) {
    const key = c.key.length > MAX_KEY_CHARS ? `${c.key.slice(0, MAX_KEY_CHARS)}…` : c.key;
    parts.push(`key=${JSON.stringify(key)}`);
  }
  return parts.length === 0 ? "" : ` (${parts.join(" ")})`;
}
