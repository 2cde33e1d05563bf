import * as z from "zod";
import { CodecError, CodecErrorCode } from "./codec-error.js";

/** Default of the `maxBytes` option: 16 MiB, well above Kafka's default 1 MB record limit. */
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

/** Options every configurable codec accepts. */
export interface CodecOptions {
  /** The codec's {@link Codec.name} in error messages. Default: derived from the codec kind and schema. */
  name?: string;
  /**
   * Largest input `decode` accepts and largest output `encode` produces, in bytes;
   * beyond it both throw `CODEC_TOO_LARGE`. Default {@link DEFAULT_MAX_BYTES} (16 MiB).
   */
  maxBytes?: number;
}

/** The zod shape of {@link CodecOptions}; codec factories extend it with their own options. */
export const codecOptionsShape = {
  name: z.string().min(1).optional(),
  maxBytes: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
};

/**
 * Validates a factory's options once, at construction. Unknown keys are rejected so a
 * typo (`maxbytes`) does not silently fall back to a default.
 *
 * @throws CodecError `CODEC_INVALID_OPTIONS` naming each bad option.
 */
export function parseOptions<S extends z.ZodObject>(
  codec: string,
  schema: S,
  options: unknown,
): z.output<S> {
  if (options === undefined) options = {};
  const result = schema.strict().safeParse(options);
  if (result.success) return result.data as z.output<S>;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      return `unknown option ${issue.keys.map((k) => `"${k}"`).join(", ")}; check its spelling`;
    }
    const option = issue.path.length === 0 ? "options" : `option "${issue.path.join(".")}"`;
    return `${option}: ${issue.message}`;
  });
  throw new CodecError(
    CodecErrorCode.InvalidOptions,
    codec,
    `invalid options: ${problems.join("; ")}. See the ${codec} codec's options in the @toka/codec README.`,
    { cause: result.error },
  );
}

/**
 * Checks what every `decode` checks first: the input is a Uint8Array (a Node.js Buffer
 * is one) no larger than `maxBytes`.
 *
 * @throws CodecError `CODEC_MALFORMED` for a non-Uint8Array (including a `null`
 *   tombstone that was not handled before decoding), `CODEC_TOO_LARGE` past `maxBytes`.
 */
export function checkDecodeInput(codec: string, bytes: unknown, maxBytes: number): void {
  if (!(bytes instanceof Uint8Array)) {
    throw new CodecError(
      CodecErrorCode.Malformed,
      codec,
      `cannot decode ${describeValue(bytes)}: decode takes a Uint8Array (a Buffer is one). ` +
        "A null Kafka value is a tombstone: handle it before decoding, a codec never sees one.",
    );
  }
  if (bytes.byteLength > maxBytes) throw tooLarge(codec, "decode", bytes.byteLength, maxBytes);
}

/** The `CODEC_TOO_LARGE` error for `size` bytes past `maxBytes`. */
export function tooLarge(
  codec: string,
  direction: "decode" | "encode",
  size: number,
  maxBytes: number,
): CodecError {
  const what =
    direction === "decode" ? `cannot decode ${size} bytes` : `the value encodes to ${size} bytes`;
  return new CodecError(
    CodecErrorCode.TooLarge,
    codec,
    `${what}, more than maxBytes (${maxBytes}). Raise the codec's maxBytes option if records this large are expected.`,
  );
}

/** A value's kind for messages, with its article: "null", "an array", "a Date", "a number". */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const ctor = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof ctor === "string" && ctor !== "" && ctor !== "Object" ? `a ${ctor}` : "an object";
  }
  return `a ${typeof value}`;
}

/** A short description of a thrown value, for messages; the value itself goes into `cause`. */
export function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
