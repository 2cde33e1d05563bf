import { jsonCodec, stringCodec } from "@toka/codec";
import { defineGroup, persist, silentLogger, View } from "@toka/processor";
import { describe, expect, test } from "vitest";
import { tester } from "./helpers.js";

const counter = defineGroup("clicks-counter", {
  persist: persist(jsonCodec<number>()),
  inputs: ({ input }) => [
    input("clicks", stringCodec, (ctx) => {
      ctx.setValue((ctx.value() ?? 0) + 1);
    }),
  ],
});

describe("a View on the tester", () => {
  test("recovers a table, then follows it as the processor writes", async () => {
    const t = tester();
    t.createTopic("clicks", 3);
    await t.startProcessor(counter);
    await t.emitMany(
      "clicks",
      ["alice", "bob", "alice"].map((key) => ({ key, value: "click" })),
      { codec: stringCodec },
    );
    const view = await t.start(
      new View({
        client: t.client,
        table: counter.tableTopic,
        codec: jsonCodec<number>(),
        logger: silentLogger,
      }),
    );
    expect(view.status).toBe("running");
    expect(await view.get("alice")).toBe(2);
    expect(await view.get("bob")).toBe(1);

    await t.emit("clicks", "carol", "click", { codec: stringCodec });
    // Idle means the view applied the processor's write too: no waiting in the test.
    expect(await view.get("carol")).toBe(1);
    const entries: [string, number][] = [];
    for await (const entry of view.iterate()) entries.push(entry);
    expect(entries).toEqual([
      ["alice", 2],
      ["bob", 1],
      ["carol", 1],
    ]);
    await t.close();
    expect(view.status).toBe("closed");
  });

  test("a view of a table set up front", async () => {
    const t = tester();
    t.createTopic("clicks", 2);
    await t.setTableValue(counter, "alice", 41);
    const view = await t.start(
      new View({
        client: t.client,
        table: "clicks-counter-table",
        codec: jsonCodec<number>(),
        logger: silentLogger,
      }),
    );
    expect(await view.get("alice")).toBe(41);
    await t.startProcessor(counter);
    await t.emit("clicks", "alice", "click", { codec: stringCodec });
    expect(await view.get("alice")).toBe(42);
  });
});
