import { describe, expect, expectTypeOf, it } from "vitest";
import { type Codec, createStringCodec, stringCodec } from "../src/index.js";
import { expectCodecError } from "./codec-contract.js";

describe("stringCodec", () => {
  it("is a Codec<string> named string", () => {
    expectTypeOf(stringCodec).toEqualTypeOf<Codec<string>>();
    expect(stringCodec.name).toBe("string");
    expect(createStringCodec({ name: "order-id" }).name).toBe("order-id");
  });

  it("writes the same bytes as Kafka's StringSerializer (UTF-8)", () => {
    const value = "Grüße, 世界 👋";
    expect(Buffer.from(stringCodec.encode(value))).toEqual(Buffer.from(value, "utf8"));
  });

  it("keeps a leading U+FEFF as text instead of stripping it as a byte-order mark", () => {
    const bytes = stringCodec.encode("\uFEFFx");
    expect([...bytes]).toEqual([0xef, 0xbb, 0xbf, 0x78]);
    expect(stringCodec.decode(bytes)).toBe("\uFEFFx");
  });

  it("never substitutes U+FFFD for invalid bytes", () => {
    const error = expectCodecError(
      () => stringCodec.decode(new Uint8Array([0x61, 0xff, 0x62])),
      "CODEC_MALFORMED",
      "string",
    );
    expect(error.message).toContain("bytesCodec");
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it("refuses a lone surrogate on encode, naming where it is", () => {
    const error = expectCodecError(() => stringCodec.encode("ab\uDC00"), "CODEC_ENCODE_FAILED");
    expect(error.message).toContain("lone surrogate U+DC00 at index 2");
  });

  it("refuses non-strings instead of converting them", () => {
    const error = expectCodecError(() => stringCodec.encode(12 as never), "CODEC_ENCODE_FAILED");
    expect(error.message).toContain("cannot encode a number");
  });

  it("rejects invalid options", () => {
    expectCodecError(() => createStringCodec({ name: "" }), "CODEC_INVALID_OPTIONS", "string");
    expectCodecError(() => createStringCodec({ copy: true } as never), "CODEC_INVALID_OPTIONS");
  });
});
