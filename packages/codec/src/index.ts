export {
  type BytesCodecOptions,
  bytesCodec,
  createBytesCodec,
} from "./bytes-codec.js";
export type { Codec, CodecValue } from "./codec.js";
export {
  CodecError,
  CodecErrorCode,
  type CodecErrorOptions,
  type ErrorCoordinates,
  isCodecError,
  TOKA_ERROR_BRAND,
} from "./codec-error.js";
export { type CodecOptions, DEFAULT_MAX_BYTES } from "./codec-options.js";
export { type JsonCodecOptions, jsonCodec } from "./json-codec.js";
export { float64Codec, int32Codec, int64Codec } from "./number-codecs.js";
export {
  DEFAULT_RECURSION_LIMIT,
  type ProtobufCodecOptions,
  protobufCodec,
} from "./protobuf-codec.js";
export {
  createStringCodec,
  type StringCodecOptions,
  stringCodec,
} from "./string-codec.js";
