import { stringCodec } from "@toka/codec";
import { defineGroup, persist } from "@toka/processor";
import { expect, test } from "vitest";
import { json, tester } from "./helpers.js";

test("smoke", async () => {
  const t = tester();
  t.createTopic("clicks", 4);
  const graph = defineGroup("counter", {
    persist: persist(json<number>()),
    inputs: ({ input }) => [
      input("clicks", stringCodec, (ctx) => {
        ctx.setValue((ctx.value() ?? 0) + 1);
      }),
    ],
  });
  const p = await t.startProcessor(graph);
  expect(p.status).toBe("running");
  await t.emit("clicks", "alice", "x", { codec: stringCodec });
  await t.emit("clicks", "alice", "x", { codec: stringCodec });
  await t.emit("clicks", "bob", "x", { codec: stringCodec });
  expect(await t.tableValue(graph, "alice")).toBe(2);
  expect(await t.tableValue(graph, "bob")).toBe(1);
});
