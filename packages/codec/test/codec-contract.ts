import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Codec, type CodecErrorCode, isCodecError, TOKA_ERROR_BRAND } from "../src/index.js";

/** What the contract suite needs to know about one codec. */
export interface CodecContract<T> {
  /** The codec under test, with default options. */
  codec: Codec<T>;
  /** Values of `T` that must round-trip, including edge cases. */
  samples: readonly T[];
  /** Any value of `T`, for the round-trip property. */
  arbitrary: fc.Arbitrary<T>;
  /** Values `encode` must reject with `CODEC_ENCODE_FAILED` (wrong type or shape). */
  invalidValues: readonly unknown[];
  /** Inputs `decode` must reject, with the exact code each must get. */
  invalidBytes: readonly { label: string; bytes: Uint8Array; code: CodecErrorCode }[];
  /**
   * Maps a decoded value to what equality compares, where the codec documents a
   * difference: a decoded Buffer for a Uint8Array, JSON's 0 for -0.
   */
  normalize?: (value: T) => unknown;
  /** The same codec with a `maxBytes` option, for codecs that have one. */
  withMaxBytes?: (maxBytes: number) => Codec<T>;
}

/** Runs `fn`, expecting a CodecError from `codec` with `code`; returns it. */
export function expectCodecError(
  fn: () => unknown,
  code: CodecErrorCode,
  codecName?: string,
): Error & { code: string; codec: string } {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, "expected a CodecError, nothing was thrown").toBeDefined();
  if (!isCodecError(thrown)) throw new Error("expected a CodecError", { cause: thrown });
  expect(thrown.code).toBe(code);
  if (codecName !== undefined) expect(thrown.codec).toBe(codecName);
  expect(thrown.retriable).toBe(false);
  expect(thrown[TOKA_ERROR_BRAND]).toBe(true);
  expect(thrown.message.startsWith(`${thrown.codec}: `)).toBe(true);
  return thrown;
}

/** A Buffer holding `bytes` at a non-zero offset of a larger allocation, as kafkajs hands them out. */
function offsetBuffer(bytes: Uint8Array): Buffer {
  const backing = Buffer.alloc(bytes.byteLength + 16, 0xee);
  backing.set(bytes, 7);
  return backing.subarray(7, 7 + bytes.byteLength);
}

/**
 * The behaviour every codec shares, run once per codec (STYLE #19): round trips of
 * samples and of arbitrary values, Buffer inputs, the exact error code for each kind of
 * bad input, and that mangled bytes only ever fail with a CodecError.
 */
export function describeCodecContract<T>(label: string, contract: CodecContract<T>): void {
  const { codec } = contract;
  const normalize = contract.normalize ?? ((value: T): unknown => value);

  describe(`Codec contract: ${label}`, () => {
    it("has a name for error messages", () => {
      expect(typeof codec.name).toBe("string");
      expect(codec.name.length).toBeGreaterThan(0);
    });

    it("round-trips every sample", () => {
      for (const sample of contract.samples) {
        const bytes = codec.encode(sample);
        expect(bytes).toBeInstanceOf(Uint8Array);
        expect(codec.decode(bytes)).toEqual(sample);
      }
    });

    it("round-trips arbitrary values: decode(encode(x)) equals x", () => {
      fc.assert(
        fc.property(contract.arbitrary, (value) => {
          expect(codec.decode(codec.encode(value))).toEqual(value);
        }),
        { numRuns: 300 },
      );
    });

    it("encodes deterministically", () => {
      fc.assert(
        fc.property(contract.arbitrary, (value) => {
          expect(codec.encode(value)).toEqual(codec.encode(value));
        }),
      );
    });

    it("decodes a Buffer at an offset of a larger allocation like a Uint8Array", () => {
      fc.assert(
        fc.property(contract.arbitrary, (value) => {
          const bytes = codec.encode(value);
          expect(normalize(codec.decode(offsetBuffer(bytes)))).toEqual(
            normalize(codec.decode(bytes)),
          );
        }),
      );
    });

    it("rejects what is not a Uint8Array, such as an unhandled null tombstone, as CODEC_MALFORMED", () => {
      for (const input of [null, undefined, "text", 42, [1, 2], new ArrayBuffer(4), {}]) {
        const error = expectCodecError(
          () => codec.decode(input as Uint8Array),
          "CODEC_MALFORMED",
          codec.name,
        );
        if (input === null) expect(error.message).toMatch(/tombstone/);
      }
    });

    it("rejects values it cannot encode as CODEC_ENCODE_FAILED", () => {
      for (const value of contract.invalidValues) {
        expectCodecError(() => codec.encode(value as T), "CODEC_ENCODE_FAILED", codec.name);
      }
    });

    for (const { label: what, bytes, code } of contract.invalidBytes) {
      it(`rejects ${what} as ${code}`, () => {
        expectCodecError(() => codec.decode(bytes), code, codec.name);
      });
    }

    it("fails on mangled or random bytes with a CodecError only, and what it decodes re-encodes", () => {
      const truncated = fc.tuple(contract.arbitrary, fc.nat()).map(([value, n]) => {
        const bytes = codec.encode(value);
        return bytes.subarray(0, bytes.byteLength === 0 ? 0 : n % bytes.byteLength);
      });
      const flipped = fc
        .tuple(contract.arbitrary, fc.nat(), fc.integer({ min: 1, max: 255 }))
        .map(([value, n, mask]) => {
          const bytes = codec.encode(value).slice();
          if (bytes.byteLength > 0) bytes[n % bytes.byteLength]! ^= mask;
          return bytes;
        });
      const input = fc.oneof(fc.uint8Array({ maxLength: 64 }), truncated, flipped);
      fc.assert(
        fc.property(input, (bytes) => {
          let decoded: T;
          try {
            decoded = codec.decode(bytes);
          } catch (e) {
            if (!isCodecError(e)) throw new Error("decode threw a non-CodecError", { cause: e });
            expect(e.codec).toBe(codec.name);
            return;
          }
          let again: Uint8Array;
          try {
            again = codec.encode(decoded);
          } catch (e) {
            // A value JSON cannot carry back, e.g. 1e400 parsed as Infinity, must fail loudly.
            if (!isCodecError(e)) throw new Error("encode threw a non-CodecError", { cause: e });
            return;
          }
          expect(normalize(codec.decode(again))).toEqual(normalize(decoded));
        }),
        { numRuns: 500 },
      );
    });

    const withMaxBytes = contract.withMaxBytes;
    if (withMaxBytes !== undefined) {
      it("rejects input and output larger than maxBytes as CODEC_TOO_LARGE, accepts exactly maxBytes", () => {
        fc.assert(
          fc.property(contract.arbitrary, (value) => {
            const bytes = codec.encode(value);
            const exact = withMaxBytes(Math.max(1, bytes.byteLength));
            if (bytes.byteLength > 0) expect(exact.decode(bytes)).toEqual(codec.decode(bytes));
            if (bytes.byteLength < 2) return;
            const small = withMaxBytes(bytes.byteLength - 1);
            expectCodecError(() => small.decode(bytes), "CODEC_TOO_LARGE", small.name);
            expectCodecError(() => small.encode(value), "CODEC_TOO_LARGE", small.name);
          }),
        );
      });

      it("rejects an invalid maxBytes option as CODEC_INVALID_OPTIONS", () => {
        for (const maxBytes of [0, -1, 1.5, Number.NaN]) {
          expectCodecError(() => withMaxBytes(maxBytes), "CODEC_INVALID_OPTIONS");
        }
      });
    }
  });
}
