import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { originHeader, originSource, parseOrigin } from "../src/record-origin.js";

describe("record origins", () => {
  test("a header reads back as the source and position it was written with", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }), // group names may hold any character, "/" and "." too
        fc.stringMatching(/^[a-zA-Z0-9._-]{1,40}$/), // a topic name
        fc.nat({ max: 10_000 }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 1, max: 10_000 }),
        (group, topic, partition, offset, index) => {
          const source = originSource(group, topic, partition);
          expect(parseOrigin(originHeader(source, String(offset), index))).toEqual({
            source,
            offset,
            index,
          });
        },
      ),
    );
  });

  test("a header that is no origin is none", () => {
    for (const bad of [
      undefined,
      "",
      "12",
      "12.1",
      "12.1/",
      ".1/0/t/g",
      "12./0/t/g",
      "12.0/0/t/g", // indexes start at 1
      "-1.1/0/t/g",
      "1e3.1/0/t/g",
      "99999999999999999.1/0/t/g", // above 2^53
    ])
      expect(parseOrigin(bad)).toBeUndefined();
  });
});
