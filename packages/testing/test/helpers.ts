import type { Codec } from "@toka/codec";
import { onTestFinished } from "vitest";
import { Tester, type TesterOptions } from "../src/index.js";

/** A tester closed when the test finishes. */
export function tester(options: TesterOptions = {}): Tester {
  const t = new Tester(options);
  onTestFinished(() => t.close());
  return t;
}

/** A JSON codec without a schema, for test values. */
export function json<T>(): Codec<T> {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return {
    name: "json",
    encode: (value) => encoder.encode(JSON.stringify(value)),
    decode: (bytes) => JSON.parse(decoder.decode(bytes)) as T,
  };
}
