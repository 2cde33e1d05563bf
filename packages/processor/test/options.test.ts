import { stringCodec } from "@toka/codec";
import { describe, expect, test } from "vitest";
import { defineGroup, Processor } from "../src/index.js";

const graph = defineGroup("g", { inputs: ({ input }) => [input("a", stringCodec, () => {})] });

describe("processor options are resolved once, at construction", () => {
  test.each([
    [{ brokers: ["127.0.0.1:9092"], guarantee: "twice" }, '"guarantee"'],
    [{ brokers: ["127.0.0.1:9092"], errorPolicy: "ignore" }, '"errorPolicy"'],
    [{ brokers: ["localhost"] }, '"brokers.0"'],
    [{ brokers: ["127.0.0.1:9092"], sessionTimeoutMs: 10 }, '"sessionTimeoutMs"'],
    [{ brokers: ["127.0.0.1:9092"], dedup: { idsPerKey: 0 } }, '"dedup.idsPerKey"'],
    [{}, '"brokers"'],
    [{ brokers: ["127.0.0.1:9092"], queryAddress: "10.0.0.7:8080" }, '"queryAddress"'],
    [{ brokers: ["127.0.0.1:9092"], queryAddress: "ftp://10.0.0.7" }, '"queryAddress"'],
    [{ brokers: ["127.0.0.1:9092"], queryAddress: "http://h:1/?x=1" }, '"queryAddress"'],
    [{ brokers: ["127.0.0.1:9092"], queryAddress: "http://u:p@h:1" }, '"queryAddress"'],
    [{ brokers: ["127.0.0.1:9092"], queryAddress: 8080 }, '"queryAddress"'],
    [{ brokers: ["127.0.0.1:9092"], standbyReplicas: -1 }, '"standbyReplicas"'],
    [{ brokers: ["127.0.0.1:9092"], standbyReplicas: 1.5 }, '"standbyReplicas"'],
  ])("%j is refused naming the option", (options, name) => {
    expect(() => new Processor(graph, options as never)).toThrowError(
      expect.objectContaining({
        code: "TOKA_INVALID_CONFIG",
        message: expect.stringContaining(name),
      }),
    );
  });

  test("valid options construct an idle processor", () => {
    const processor = new Processor(graph, { brokers: ["127.0.0.1:9092"] });
    expect(processor.status).toBe("idle");
    expect(processor.stats()).toEqual({ group: "g", status: "idle", partitions: [], standbys: [] });
  });
});
