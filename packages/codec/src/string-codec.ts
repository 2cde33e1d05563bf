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
import { decodeUtf8, describeLoneSurrogate, encodeUtf8, isWellFormed } from "./utf8.js";

/** Options of {@link createStringCodec}. */
export type StringCodecOptions = CodecOptions;

const optionsSchema = z.object(codecOptionsShape);

/**
 * A codec for text as strict UTF-8, byte-compatible with Kafka's `StringSerializer`.
 * A leading U+FEFF is kept as text, not stripped as a byte-order mark.
 *
 * - `decode` throws `CODEC_MALFORMED` for bytes that are not valid UTF-8 (never
 *   substitutes U+FFFD) and `CODEC_TOO_LARGE` past `maxBytes`.
 * - `encode` throws `CODEC_ENCODE_FAILED` for a non-string or a string with a lone
 *   surrogate (UTF-8 cannot carry one; encoding it would change the text), and
 *   `CODEC_TOO_LARGE` past `maxBytes`.
 *
 * @param options - `name` (default `"string"`), `maxBytes` (default 16 MiB).
 * @throws CodecError `CODEC_INVALID_OPTIONS` for invalid options.
 */
export function createStringCodec(options?: StringCodecOptions): Codec<string> {
  const resolved = parseOptions("string", optionsSchema, options);
  const name = resolved.name ?? "string";
  const maxBytes = resolved.maxBytes ?? DEFAULT_MAX_BYTES;
  return {
    name,
    encode(value: string): Uint8Array {
      if (typeof value !== "string") {
        throw new CodecError(
          CodecErrorCode.EncodeFailed,
          name,
          `cannot encode ${describeValue(value)}: this codec takes strings. ` +
            "Convert the value with String() or pick a codec for its type.",
        );
      }
      if (!isWellFormed(value)) {
        throw new CodecError(
          CodecErrorCode.EncodeFailed,
          name,
          `cannot encode a string with ${describeLoneSurrogate(value)}: UTF-8 cannot represent it. ` +
            "The string was probably cut in the middle of a surrogate pair; cut at code points instead.",
        );
      }
      const bytes = encodeUtf8(value);
      if (bytes.byteLength > maxBytes) throw tooLarge(name, "encode", bytes.byteLength, maxBytes);
      return bytes;
    },
    decode(bytes: Uint8Array): string {
      checkDecodeInput(name, bytes, maxBytes);
      try {
        return decodeUtf8(bytes);
      } catch (cause) {
        throw new CodecError(
          CodecErrorCode.Malformed,
          name,
          "the bytes are not valid UTF-8. The producer wrote another encoding or binary data; " +
            "read such a topic with bytesCodec.",
          { cause },
        );
      }
    },
  };
}

/** {@link createStringCodec} with its defaults: strict UTF-8, name `"string"`, maxBytes 16 MiB. */
export const stringCodec: Codec<string> = createStringCodec();
