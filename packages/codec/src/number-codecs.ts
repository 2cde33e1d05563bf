import type { Codec } from "./codec.js";
import { CodecError, CodecErrorCode } from "./codec-error.js";
import { checkDecodeInput, describeValue } from "./codec-options.js";

/*
 * Fixed-width big-endian numbers, byte-compatible with Kafka's IntegerSerializer,
 * LongSerializer and DoubleSerializer, so toka and Java clients agree on keys and
 * values such as counters and sums.
 */

function fixedWidth<T>(
  name: string,
  width: number,
  javaType: string,
  check: (value: unknown) => string | undefined,
  write: (view: DataView, value: T) => void,
  read: (view: DataView) => T,
): Codec<T> {
  return {
    name,
    encode(value: T): Uint8Array {
      const problem = check(value);
      if (problem !== undefined) {
        throw new CodecError(CodecErrorCode.EncodeFailed, name, `cannot encode ${problem}`);
      }
      const bytes = new Uint8Array(width);
      write(new DataView(bytes.buffer), value);
      return bytes;
    },
    decode(bytes: Uint8Array): T {
      // A wrong length of any size is malformed here: there is no maxBytes to raise.
      checkDecodeInput(name, bytes, Number.POSITIVE_INFINITY);
      if (bytes.byteLength !== width) {
        throw new CodecError(
          CodecErrorCode.Malformed,
          name,
          `expected exactly ${width} bytes (a big-endian ${javaType}), got ${bytes.byteLength}. ` +
            "The producer used another serializer for this topic.",
        );
      }
      return read(new DataView(bytes.buffer, bytes.byteOffset, width));
    },
  };
}

function describe(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number") return String(value);
  return describeValue(value);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A signed 32-bit integer as 4 big-endian bytes (Kafka's `IntegerSerializer`).
 *
 * - `decode` throws `CODEC_MALFORMED` unless given exactly 4 bytes.
 * - `encode` throws `CODEC_ENCODE_FAILED` for anything but an integer in
 *   [-2147483648, 2147483647] (no silent truncation of fractions or overflow).
 */
export const int32Codec: Codec<number> = fixedWidth<number>(
  "int32",
  4,
  "int32 (Java int)",
  (v) =>
    typeof v === "number" && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31
      ? undefined
      : `${describe(v)}: int32Codec takes integers from -2^31 to 2^31-1; use int64Codec or float64Codec for others`,
  (view, v) => view.setInt32(0, v),
  (view) => view.getInt32(0),
);

/**
 * A signed 64-bit integer as a `bigint` in 8 big-endian bytes (Kafka's `LongSerializer`).
 *
 * - `decode` throws `CODEC_MALFORMED` unless given exactly 8 bytes.
 * - `encode` throws `CODEC_ENCODE_FAILED` for anything but a bigint in [-2^63, 2^63-1]
 *   (a `number` is refused: convert it with `BigInt(n)`).
 */
export const int64Codec: Codec<bigint> = fixedWidth<bigint>(
  "int64",
  8,
  "int64 (Java long)",
  (v) =>
    typeof v === "bigint" && v >= INT64_MIN && v <= INT64_MAX
      ? undefined
      : `${describe(v)}: int64Codec takes bigints from -2^63 to 2^63-1${typeof v === "number" ? "; convert numbers with BigInt(n)" : ""}`,
  (view, v) => view.setBigInt64(0, v),
  (view) => view.getBigInt64(0),
);

/**
 * A 64-bit IEEE 754 float as 8 big-endian bytes (Kafka's `DoubleSerializer`). Every
 * `number` round-trips exactly, including `NaN`, `±Infinity` and `-0`.
 *
 * - `decode` throws `CODEC_MALFORMED` unless given exactly 8 bytes.
 * - `encode` throws `CODEC_ENCODE_FAILED` for a non-number.
 */
export const float64Codec: Codec<number> = fixedWidth<number>(
  "float64",
  8,
  "float64 (Java double)",
  (v) => (typeof v === "number" ? undefined : `${describe(v)}: float64Codec takes numbers`),
  (view, v) => view.setFloat64(0, v),
  (view) => view.getFloat64(0),
);
