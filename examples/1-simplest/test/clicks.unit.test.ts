import { jsonCodec, stringCodec } from "@toka/codec";
import { silentLogger, View } from "@toka/processor";
import { Tester } from "@toka/testing";
import { expect, onTestFinished, test } from "vitest";
import { ClickCount, clickCounter } from "../src/clicks.js";

// Example 1 without a broker: the same group, emitter input and view, on the in-memory
// tester (the end-to-end run on a real broker is example.it.test.ts).

function tester() {
  const t = new Tester();
  onTestFinished(() => t.close());
  return t;
}

/** `count` clicks per user, as the example emits them. */
function clicks(perUser: Record<string, number>) {
  return Object.entries(perUser).flatMap(([user, count]) =>
    Array.from({ length: count }, (_, i) => ({ key: user, value: `click ${i}` })),
  );
}

test("counts every click per user in the group table", async () => {
  const t = tester();
  t.createTopic("clicks", 4);
  const counter = clickCounter("click-counter", "clicks");
  await t.startProcessor(counter);

  await t.emitMany("clicks", clicks({ alice: 3, bob: 5, carol: 2 }), { codec: stringCodec });

  expect(await t.table(counter)).toEqual(
    new Map([
      ["alice", { clicks: 3 }],
      ["bob", { clicks: 5 }],
      ["carol", { clicks: 2 }],
    ]),
  );
  // Each user's clicks land on one partition, and so does the user's table value.
  for (const m of t.messages("click-counter-table")) {
    expect(m.partition).toBe(t.partitionOf("clicks", m.key!));
  }
});

test("a view reads the counts, and a second run adds to them", async () => {
  const t = tester();
  t.createTopic("clicks", 4);
  const counter = clickCounter("click-counter", "clicks");
  await t.startProcessor(counter);
  await t.emitMany("clicks", clicks({ alice: 3, bob: 5 }), { codec: stringCodec });

  const view = await t.start(
    new View({
      client: t.client,
      table: counter.tableTopic,
      codec: jsonCodec(ClickCount),
      logger: silentLogger,
    }),
  );
  expect(await view.get("alice")).toEqual({ clicks: 3 });

  await t.emitMany("clicks", clicks({ alice: 1, carol: 2 }), { codec: stringCodec });
  expect(await view.get("alice")).toEqual({ clicks: 4 });
  expect(await view.get("bob")).toEqual({ clicks: 5 });
  expect(await view.get("carol")).toEqual({ clicks: 2 });
});

test("a restarted counter recovers its counts from the table topic", async () => {
  const t = tester();
  t.createTopic("clicks", 4);
  const counter = clickCounter("click-counter", "clicks");
  const first = await t.startProcessor(counter);
  await t.emitMany("clicks", clicks({ alice: 2 }), { codec: stringCodec });
  await first.close();

  await t.startProcessor(counter); // fresh memory storage: rebuilt from click-counter-table
  await t.emitMany("clicks", clicks({ alice: 1 }), { codec: stringCodec });
  expect(await t.tableValue(counter, "alice")).toEqual({ clicks: 3 });
});
