export type { Codec, CodecValue } from "./codec.js";
export { CodecErrorCode, type ErrorCoordinates, TOKA_ERROR_BRAND } from "./codec-error.js";
