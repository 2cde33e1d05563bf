import { describe, expect, expectTypeOf, it } from "vitest";
import {
  CodecError,
  CodecErrorCode,
  isCodecError,
  jsonCodec,
  TOKA_ERROR_BRAND,
} from "../src/index.js";

describe("CodecError", () => {
  it("carries code, codec, detail, cause and the toka brand; never retriable", () => {
    const cause = new SyntaxError("Unexpected token");
    const error = new CodecError(
      CodecErrorCode.Malformed,
      "json(Deposit)",
      "the bytes are not JSON",
      {
        cause,
      },
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("CodecError");
    expect(error.code).toBe("CODEC_MALFORMED");
    expect(error.codec).toBe("json(Deposit)");
    expect(error.detail).toBe("the bytes are not JSON");
    expect(error.message).toBe("json(Deposit): the bytes are not JSON");
    expect(error.cause).toBe(cause);
    expect(error.retriable).toBe(false);
    expect(error[TOKA_ERROR_BRAND]).toBe(true);
    expect(TOKA_ERROR_BRAND).toBe(Symbol.for("toka.error"));
    expect(String(error.stack)).toMatch(/^CodecError: json\(Deposit\): the bytes are not JSON\n/);
  });

  it("has no cause property when none is given", () => {
    const error = new CodecError(CodecErrorCode.TooLarge, "bytes", "too big");
    expect("cause" in error).toBe(false);
  });

  it("has the coordinates it is given as enumerable fields, and no others", () => {
    const error = new CodecError(CodecErrorCode.Malformed, "string", "bad", {
      coordinates: { topic: "deposits", partition: 0, offset: "17" },
    });
    expect(error).toMatchObject({ topic: "deposits", partition: 0, offset: "17" });
    expect(Object.keys(error)).toEqual(expect.arrayContaining(["topic", "partition", "offset"]));
    expect(Object.keys(error)).not.toContain("group");
    expect(Object.keys(error)).not.toContain("key");
    expect(error.coordinates).toEqual({ topic: "deposits", partition: 0, offset: "17" });
    expect(error.message).toBe("string: bad (topic=deposits partition=0 offset=17)");
  });

  describe("withCoordinates", () => {
    const original = new CodecError(CodecErrorCode.SchemaViolation, "json", "amount is missing", {
      cause: { issues: [] },
      coordinates: { group: "bank" },
    });

    it("returns a new error whose message repeats the merged coordinates", () => {
      const located = original.withCoordinates({
        topic: "deposits",
        partition: 3,
        offset: "42",
        key: "alice",
      });
      expect(located).not.toBe(original);
      expect(located.message).toBe(
        'json: amount is missing (group=bank topic=deposits partition=3 offset=42 key="alice")',
      );
      expect(located).toMatchObject({
        name: "CodecError",
        code: "CODEC_SCHEMA_VIOLATION",
        codec: "json",
        detail: "amount is missing",
        group: "bank",
        topic: "deposits",
        partition: 3,
        offset: "42",
        key: "alice",
        retriable: false,
      });
      expect(located.cause).toBe(original.cause);
      expect(located[TOKA_ERROR_BRAND]).toBe(true);
    });

    it("leaves the original unchanged and keeps its stack frames", () => {
      const located = original.withCoordinates({ topic: "t" });
      expect(original.message).toBe("json: amount is missing (group=bank)");
      expect("topic" in original).toBe(false);
      const frames = (stack: string | undefined) => String(stack).split("\n").slice(1);
      expect(frames(located.stack)).toEqual(frames(original.stack));
      expect(String(located.stack).split("\n")[0]).toBe(`CodecError: ${located.message}`);
    });

    it("overrides a coordinate given again and keeps the others", () => {
      const once = original.withCoordinates({ topic: "a", partition: 1 });
      const twice = once.withCoordinates({ topic: "b" });
      expect(twice.coordinates).toEqual({ group: "bank", topic: "b", partition: 1 });
    });

    it("quotes the key and shortens a long one in the message, not in the field", () => {
      const key = "k".repeat(100);
      const located = original.withCoordinates({ key });
      expect(located.key).toBe(key);
      expect(located.message).toContain(`key="${"k".repeat(64)}…"`);
    });
  });
});

describe("isCodecError", () => {
  it("recognizes errors thrown by codecs", () => {
    let thrown: unknown;
    try {
      jsonCodec().decode(new TextEncoder().encode("{"));
    } catch (e) {
      thrown = e;
    }
    expect(isCodecError(thrown)).toBe(true);
    if (isCodecError(thrown)) expectTypeOf(thrown.code).toEqualTypeOf<CodecErrorCode>();
  });

  it("checks name and code, not instanceof, so another copy of the package agrees", () => {
    const fromAnotherCopy = Object.assign(new Error("x"), {
      name: "CodecError",
      code: "CODEC_TOO_LARGE",
    });
    expect(isCodecError(fromAnotherCopy)).toBe(true);
  });

  it("rejects everything else", () => {
    for (const value of [
      new Error("plain"),
      new SyntaxError("json"),
      { name: "CodecError", code: "SOMETHING_ELSE" },
      { name: "StorageError", code: "CODEC_MALFORMED" },
      { name: "CodecError" },
      "CodecError",
      null,
      undefined,
    ]) {
      expect(isCodecError(value)).toBe(false);
    }
  });
});
