/**
 * Strict UTF-8. The platform's `TextDecoder` replaces invalid bytes with U+FFFD unless
 * it is `fatal`, and `TextEncoder` does the same to lone surrogates: both would turn bad
 * input into a silently different value, which a codec must never return.
 */

// ignoreBOM: a leading U+FEFF is part of the text, so it survives a round trip.
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** Decodes UTF-8; throws a `TypeError` on invalid bytes. Keeps a leading U+FEFF. */
export function decodeUtf8(bytes: Uint8Array): string {
  return strictDecoder.decode(bytes);
}

/** Encodes to UTF-8. The caller checks {@link isWellFormed} first where it matters. */
export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}

// String.prototype.isWellFormed is ES2024 (Node.js 20+); the lib this repo compiles
// against is ES2023, hence the lookup. The regex is the fallback for older runtimes.
const nativeIsWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean })
  .isWellFormed;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True unless `text` holds a lone surrogate, which UTF-8 cannot represent. */
export const isWellFormed: (text: string) => boolean =
  nativeIsWellFormed === undefined
    ? (text) => !LONE_SURROGATE.test(text)
    : (text) => nativeIsWellFormed.call(text);

/** The first lone surrogate of `text` as `U+XXXX at index i`, for error messages. */
export function describeLoneSurrogate(text: string): string {
  const match = LONE_SURROGATE.exec(text);
  if (match === null) return "a lone surrogate";
  const unit = match[0].charCodeAt(0).toString(16).toUpperCase();
  return `a lone surrogate U+${unit} at index ${match.index}`;
}
