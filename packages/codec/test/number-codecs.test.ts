import { describe, expect, expectTypeOf, it } from "vitest";
import { type Codec, float64Codec, int32Codec, int64Codec } from "../src/index.js";
import { expectCodecError } from "./codec-contract.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("number codecs", () => {
  it("have the types and names of their Kafka serializers", () => {
    expectTypeOf(int32Codec).toEqualTypeOf<Codec<number>>();
    expectTypeOf(int64Codec).toEqualTypeOf<Codec<bigint>>();
    expectTypeOf(float64Codec).toEqualTypeOf<Codec<number>>();
    expect([int32Codec.name, int64Codec.name, float64Codec.name]).toEqual([
      "int32",
      "int64",
      "float64",
    ]);
  });

  it("write big-endian bytes like IntegerSerializer, LongSerializer and DoubleSerializer", () => {
    expect(hex(int32Codec.encode(1))).toBe("00000001");
    expect(hex(int32Codec.encode(-2))).toBe("fffffffe");
    expect(hex(int64Codec.encode(1n))).toBe("0000000000000001");
    expect(hex(int64Codec.encode(-1n))).toBe("ffffffffffffffff");
    expect(hex(float64Codec.encode(1))).toBe("3ff0000000000000");
    expect(hex(float64Codec.encode(-0))).toBe("8000000000000000");
  });

  it("read values at any offset of a larger buffer", () => {
    const backing = Buffer.from("ff000000000000002aff", "hex");
    expect(int64Codec.decode(backing.subarray(1, 9))).toBe(42n);
  });

  it("refuse fractions and overflow instead of truncating or wrapping", () => {
    expectCodecError(() => int32Codec.encode(0.5), "CODEC_ENCODE_FAILED", "int32");
    expectCodecError(() => int32Codec.encode(2 ** 31), "CODEC_ENCODE_FAILED");
    const error = expectCodecError(() => int64Codec.encode(7 as never), "CODEC_ENCODE_FAILED");
    expect(error.message).toContain("BigInt(n)");
    expectCodecError(() => int64Codec.encode(2n ** 63n), "CODEC_ENCODE_FAILED");
  });

  it("reject input of the wrong length as CODEC_MALFORMED, naming the expected layout", () => {
    const error = expectCodecError(() => int32Codec.decode(new Uint8Array(8)), "CODEC_MALFORMED");
    expect(error.message).toContain(
      "expected exactly 4 bytes (a big-endian int32 (Java int)), got 8",
    );
  });
});
