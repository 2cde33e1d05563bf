import { jsonCodec } from "@toka/codec";
import { defineGroup, Processor, persist, silentLogger } from "@toka/processor";
import type { KafkaClient } from "@toka/processor/kafka";
import { expect, test } from "vitest";
import { tester } from "./helpers.js";

const codec = jsonCodec<number>();

test("an assigned partition missing from the table's end offsets is asked for again, not taken for an empty table: recovery restores it", async () => {
  const t = tester();
  t.createTopic("amounts", 1);
  // What a previous owner wrote.
  t.append("summer-table", [{ key: "bob", value: 7 }], codec);
  // The first answer lacks the partition, as metadata without it would.
  let answers = 0;
  const client: KafkaClient = Object.create(t.client);
  client.admin = () => {
    const admin = t.client.admin();
    const watermarks = admin.watermarks.bind(admin);
    admin.watermarks = async (topic) => {
      const marks = await watermarks(topic);
      if (topic !== "summer-table") return marks;
      answers += 1;
      return answers === 1 ? [] : marks;
    };
    return admin;
  };
  const graph = defineGroup("summer", {
    persist: persist(codec),
    inputs: ({ input }) => [
      input("amounts", codec, (ctx, amount) => ctx.setValue((ctx.value() ?? 0) + amount)),
    ],
  });
  const processor = new Processor(graph, { client, logger: silentLogger, clock: t.clock });
  const recovered: number[] = [];
  processor.on("partition.recovered", (e) => recovered.push(e.records));
  await t.start(processor);

  await t.emit("amounts", "bob", 1, { codec });
  expect(await t.tableValue(graph, "bob")).toBe(8);
  expect(recovered).toEqual([1]);
  expect(answers).toBeGreaterThanOrEqual(2);
});
