import * as z from "zod";
import type { Codec } from "./codec.js";
import { CodecError, CodecErrorCode } from "./codec-error.js";
import {
  type CodecOptions,
  checkDecodeInput,
  codecOptionsShape,
  DEFAULT_MAX_BYTES,
  describeValue,
  parseOptions,
  tooLarge,
} from "./codec-options.js";

/** Options of {@link createBytesCodec}. */
export interface BytesCodecOptions extends CodecOptions {
  /**
   * Return a fresh copy from `decode` instead of the input array. The input may be a
   * view into a larger network buffer (kafkajs slices fetch responses), which a
   * long-lived value would keep in memory. Default `false`.
   */
  copy?: boolean;
}

const optionsSchema = z.object({ ...codecOptionsShape, copy: z.boolean().optional() });

/**
 * The identity codec for raw bytes (Kafka's `ByteArraySerializer`).
 *
 * `encode` returns the given array itself, not a copy: do not change it afterwards.
 * `decode` returns the input itself (a Buffer stays a Buffer) unless `copy` is set.
 *
 * - `decode` throws `CODEC_MALFORMED` for a non-Uint8Array and `CODEC_TOO_LARGE` past `maxBytes`.
 * - `encode` throws `CODEC_ENCODE_FAILED` for a non-Uint8Array and `CODEC_TOO_LARGE` past `maxBytes`.
 *
 * @param options - `name` (default `"bytes"`), `maxBytes` (default 16 MiB), `copy` (default `false`).
 * @throws CodecError `CODEC_INVALID_OPTIONS` for invalid options.
 */
export function createBytesCodec(options?: BytesCodecOptions): Codec<Uint8Array> {
  const resolved = parseOptions("bytes", optionsSchema, options);
  const name = resolved.name ?? "bytes";
  const maxBytes = resolved.maxBytes ?? DEFAULT_MAX_BYTES;
  const copy = resolved.copy ?? false;
  return {
    name,
    encode(value: Uint8Array): Uint8Array {
      if (!(value instanceof Uint8Array)) {
        throw new CodecError(
          CodecErrorCode.EncodeFailed,
          name,
          `cannot encode ${describeValue(value)}: this codec takes a Uint8Array ` +
            "(or Buffer). Use stringCodec for text or jsonCodec for objects.",
        );
      }
      if (value.byteLength > maxBytes) throw tooLarge(name, "encode", value.byteLength, maxBytes);
      return value;
    },
    decode(bytes: Uint8Array): Uint8Array {
      checkDecodeInput(name, bytes, maxBytes);
      return copy ? new Uint8Array(bytes) : bytes;
    },
  };
}

/** {@link createBytesCodec} with its defaults: no copy, name `"bytes"`, maxBytes 16 MiB. */
export const bytesCodec: Codec<Uint8Array> = createBytesCodec();
