import { describe, expect, expectTypeOf, it } from "vitest";
import { bytesCodec, type Codec, createBytesCodec } from "../src/index.js";
import { expectCodecError } from "./codec-contract.js";

describe("bytesCodec", () => {
  it("is a Codec<Uint8Array> named bytes", () => {
    expectTypeOf(bytesCodec).toEqualTypeOf<Codec<Uint8Array>>();
    expect(bytesCodec.name).toBe("bytes");
  });

  it("passes arrays through without copying by default", () => {
    const value = new Uint8Array([1, 2, 3]);
    expect(bytesCodec.encode(value)).toBe(value);
    const buffer = Buffer.from([4, 5]);
    expect(bytesCodec.decode(buffer)).toBe(buffer);
  });

  it("returns a fresh Uint8Array that shares no memory with the input when copy is set", () => {
    const backing = Buffer.from([9, 1, 2, 9]);
    const input = backing.subarray(1, 3);
    const decoded = createBytesCodec({ copy: true }).decode(input);
    expect(decoded).not.toBe(input);
    expect(decoded.constructor).toBe(Uint8Array);
    expect([...decoded]).toEqual([1, 2]);
    expect(decoded.buffer).not.toBe(backing.buffer);
    backing[1] = 7;
    expect(decoded[0]).toBe(1);
  });

  it("refuses a string instead of guessing an encoding", () => {
    const error = expectCodecError(() => bytesCodec.encode("abc" as never), "CODEC_ENCODE_FAILED");
    expect(error.message).toContain("stringCodec");
  });

  it("rejects invalid options", () => {
    expectCodecError(
      () => createBytesCodec({ copy: "yes" } as never),
      "CODEC_INVALID_OPTIONS",
      "bytes",
    );
  });
});
