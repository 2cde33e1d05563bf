import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import * as z from "zod";
import type { Codec } from "./codec.js";
import { CodecError, CodecErrorCode } from "./codec-error.js";
import {
  type CodecOptions,
  checkDecodeInput,
  codecOptionsShape,
  DEFAULT_MAX_BYTES,
  describeError,
  describeValue,
  parseOptions,
  tooLarge,
} from "./codec-options.js";
import { formatPath } from "./json-loss.js";
import { findStringProblem } from "./protobuf-string-check.js";

/** Default of {@link ProtobufCodecOptions.recursionLimit}, the same as protobuf-es's. */
export const DEFAULT_RECURSION_LIMIT = 100;

/** Options of {@link protobufCodec}. */
export interface ProtobufCodecOptions extends CodecOptions {
  /**
   * Keep fields this schema does not know when decoding (`$unknown`), so a consumer on
   * an older schema passes a newer producer's fields through. Default `true`.
   */
  readUnknownFields?: boolean;
  /** Write the kept unknown fields back when encoding. Default `true`. */
  writeUnknownFields?: boolean;
  /** Deepest nesting of messages `decode` accepts; deeper input is `CODEC_MALFORMED`. Default 100. */
  recursionLimit?: number;
  /**
   * Before encoding, check that string fields hold strings without lone surrogates and
   * that list and map fields hold arrays and objects; protobuf-es would otherwise write
   * U+FFFD or `String(value)` in their place. Default `true`.
   */
  checkStrings?: boolean;
}

const optionsSchema = z.object({
  ...codecOptionsShape,
  readUnknownFields: z.boolean().optional(),
  writeUnknownFields: z.boolean().optional(),
  recursionLimit: z.number().int().positive().max(10_000).optional(),
  checkStrings: z.boolean().optional(),
});

/**
 * A codec for one Protobuf message type in the binary wire format, from a schema that
 * `@bufbuild/protoc-gen-es` (protobuf-es v2) generated, e.g. `OrderEventSchema`. The
 * value type is the generated message type. Fields the schema does not know survive a
 * decode and re-encode (schema evolution), unless the unknown-field options say otherwise.
 *
 * Encode values made with `create(Schema, init)` from `@bufbuild/protobuf`. Decoded
 * `bytes` fields are views of the input, not copies.
 *
 * - `decode` throws `CODEC_TOO_LARGE` past `maxBytes` and `CODEC_MALFORMED` (cause: the
 *   protobuf-es error) for truncated or invalid wire data, invalid UTF-8 in a string
 *   field, or nesting past `recursionLimit`. Protobuf cannot tell apart two message
 *   types whose fields happen to fit: keep one message type per topic.
 * - `encode` throws `CODEC_ENCODE_FAILED` for a message of another type, a field value
 *   of the wrong type or out of range (e.g. a negative `uint32`), and strings see
 *   {@link ProtobufCodecOptions.checkStrings}; `CODEC_TOO_LARGE` past `maxBytes`.
 *
 * @param schema - a generated message schema (`GenMessage`), or any `DescMessage`.
 * @param options - `name` (default `protobuf(<type name>)`), `maxBytes` (default 16 MiB),
 *   `readUnknownFields` and `writeUnknownFields` (default `true`), `recursionLimit`
 *   (default 100), `checkStrings` (default `true`).
 * @throws CodecError `CODEC_INVALID_OPTIONS` for invalid options or a schema that is not
 *   a message schema.
 *
 * @example
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { OrderEventSchema } from "./gen/shop/v1/order_pb.js";
 * const codec = protobufCodec(OrderEventSchema);          // Codec<OrderEvent>
 * const bytes = codec.encode(create(OrderEventSchema, { orderId: "o-1" }));
 * ```
 */
export function protobufCodec<Desc extends DescMessage>(
  schema: Desc,
  options?: ProtobufCodecOptions,
): Codec<MessageShape<Desc>> {
  if ((schema as Partial<DescMessage> | undefined)?.kind !== "message") {
    throw new CodecError(
      CodecErrorCode.InvalidOptions,
      "protobuf",
      "the schema is not a protobuf-es v2 message schema. Pass the generated `<Message>Schema` " +
        "export (e.g. OrderEventSchema), not the message type or a v1 class.",
    );
  }
  const typeName = schema.typeName;
  const resolved = parseOptions(`protobuf(${typeName})`, optionsSchema, options);
  const name = resolved.name ?? `protobuf(${typeName})`;
  const maxBytes = resolved.maxBytes ?? DEFAULT_MAX_BYTES;
  const readOptions = {
    readUnknownFields: resolved.readUnknownFields ?? true,
    recursionLimit: resolved.recursionLimit ?? DEFAULT_RECURSION_LIMIT,
  };
  const writeOptions = { writeUnknownFields: resolved.writeUnknownFields ?? true };
  const checkStrings = resolved.checkStrings ?? true;

  return {
    name,
    encode(value: MessageShape<Desc>): Uint8Array {
      const got = (value as { $typeName?: unknown } | null | undefined)?.$typeName;
      if (got !== typeName) {
        throw new CodecError(
          CodecErrorCode.EncodeFailed,
          name,
          typeof got === "string"
            ? `cannot encode a ${got} message with the codec for ${typeName}.`
            : `cannot encode ${describeValue(value)}, it has no $typeName: ` +
                `create the message with create(${schema.name}Schema, init) from @bufbuild/protobuf.`,
        );
      }
      if (checkStrings) {
        const problem = findStringProblem(schema, value);
        if (problem !== undefined) {
          throw new CodecError(
            CodecErrorCode.EncodeFailed,
            name,
            `field ${formatPath(problem.path)} ${problem.reason}. Fix the value before encoding.`,
          );
        }
      }
      let bytes: Uint8Array;
      try {
        bytes = toBinary(schema, value, writeOptions);
      } catch (cause) {
        throw new CodecError(
          CodecErrorCode.EncodeFailed,
          name,
          `${describeError(cause)}. Set fields to values of their Protobuf type (see the generated type).`,
          { cause },
        );
      }
      if (bytes.byteLength > maxBytes) throw tooLarge(name, "encode", bytes.byteLength, maxBytes);
      return bytes;
    },
    decode(bytes: Uint8Array): MessageShape<Desc> {
      checkDecodeInput(name, bytes, maxBytes);
      try {
        return fromBinary(schema, bytes, readOptions);
      } catch (cause) {
        throw new CodecError(
          CodecErrorCode.Malformed,
          name,
          `the bytes are not a valid ${typeName}: ${describeError(cause)}. ` +
            "The record is truncated or corrupt, or the producer wrote another format to this topic.",
          { cause },
        );
      }
    },
  };
}
