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
} as const;
export type CodecErrorCode = (typeof CodecErrorCode)[keyof typeof CodecErrorCode];

/** Kafka coordinates a caller (the processor) adds to a codec error. */
export interface ErrorCoordinates {
  group?: string;
  topic?: string;
  partition?: number;
  offset?: string;
  key?: string;
}
