import { jsonCodec } from "@toka/codec";
import {
  defineGroup,
  type ErrorPolicy,
  isTokaError,
  Processor,
  silentLogger,
  type TokaError,
} from "@toka/processor";
import { describe, expect, onTestFinished, test } from "vitest";
import {
  adminClient,
  awaitLeaders,
  brokers,
  createTopic,
  headersOf,
  kafkaClient,
  readTable,
  readToEnd,
  uniqueName,
  waitUntil,
} from "./helpers.js";
import { Order, orderGroup } from "./order-group.js";

/** Good orders around a message of bad bytes and one whose callback throws, all for key "k". */
async function produceWithPoison(topic: string) {
  const producer = kafkaClient().producer();
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  const values = ['{"qty":1}', "{not json", '{"qty":2}', '{"qty":-5}', '{"qty":3}'];
  await producer.send({
    topic,
    messages: values.map((value) => ({ key: "k", value, partition: 0 })),
  });
}

function start(graph: ReturnType<typeof orderGroup>, errorPolicy: ErrorPolicy) {
  const processor = new Processor(graph, { brokers: brokers(), errorPolicy, logger: silentLogger });
  onTestFinished(() => processor.close());
  return processor;
}

describe("error policies with poison messages", () => {
  test("dead-letter: bad bytes and a throwing callback go to <group>-dlq unchanged, the rest is applied", async () => {
    const input = await createTopic("orders", 2);
    const group = uniqueName("orders");
    const processor = start(orderGroup(group, input), "dead-letter");
    const deadLettered: TokaError[] = [];
    processor.on("message.dead-lettered", (e) => deadLettered.push(e));
    await processor.start();
    await produceWithPoison(input);
    await waitUntil("two dead letters", () => deadLettered.length === 2);
    await waitUntil("the good orders applied", async () => {
      const table = await readTable(`${group}-table`);
      return table.get("k")?.value.toString() === '{"total":6}';
    });

    const letters: { value: string; headers: Record<string, string> }[] = [];
    await readToEnd(`${group}-dlq`, (m) =>
      letters.push({ value: m.value!.toString(), headers: headersOf(m) }),
    );
    expect(letters.map((l) => l.value)).toEqual(["{not json", '{"qty":-5}']);
    expect(letters.map((l) => l.headers["toka-error-code"])).toEqual([
      "TOKA_DECODE_FAILED",
      "TOKA_CALLBACK_FAILED",
    ]);
    expect(letters.map((l) => l.headers["toka-source-offset"])).toEqual(["1", "3"]);
    expect(letters[0]!.headers["toka-source-topic"]).toBe(input);
    expect(letters[1]!.headers["toka-error-message"]).toContain("negative quantity -5");
    expect(deadLettered[0]).toMatchObject({
      group,
      topic: input,
      partition: 0,
      offset: "1",
      key: "k",
    });
  });

  test("skip: poison messages are counted and skipped, no dead-letter topic is made", async () => {
    const input = await createTopic("orders", 2);
    const group = uniqueName("orders");
    const processor = start(orderGroup(group, input), "skip");
    const skipped: TokaError[] = [];
    processor.on("message.skipped", (e) => skipped.push(e));
    await processor.start();
    await produceWithPoison(input);
    await waitUntil("two skipped", () => skipped.length === 2);
    await waitUntil("the good orders applied", async () => {
      const table = await readTable(`${group}-table`);
      return table.get("k")?.value.toString() === '{"total":6}';
    });
    expect(skipped.map((e) => e.code)).toEqual(["TOKA_DECODE_FAILED", "TOKA_CALLBACK_FAILED"]);
    const admin = await adminClient();
    expect(await admin.listTopics()).not.toContain(`${group}-dlq`);
  });

  test("fail: the processor stops with the error and its coordinates; nothing after it is applied", async () => {
    const input = await createTopic("orders", 2);
    const group = uniqueName("orders");
    const processor = start(orderGroup(group, input), "fail");
    const running = processor.run();
    await processor.waitFor("running");
    await produceWithPoison(input);
    const error = await running.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTokaError(error)).toBe(true);
    expect(error).toMatchObject({
      code: "TOKA_DECODE_FAILED",
      group,
      topic: input,
      partition: 0,
      offset: "1",
      key: "k",
    });
    expect((error as Error).message).toContain(`topic=${input} partition=0 offset=1 key="k"`);
    expect(processor.status).toBe("failed");
    const table = await readTable(`${group}-table`);
    expect(table.get("k")).toBeUndefined();
  });
});

describe("topic checks at start", () => {
  test("inputs with different partition counts: the error names each topic and its count", async () => {
    const a = await createTopic("a", 4);
    const b = await createTopic("b", 2);
    const graph = defineGroup(uniqueName("mismatch"), {
      inputs: ({ input }) => [
        input(a, jsonCodec(Order), () => {}),
        input(b, jsonCodec(Order), () => {}),
      ],
    });
    const processor = new Processor(graph, { brokers: brokers(), logger: silentLogger });
    onTestFinished(() => processor.close());
    await expect(processor.start()).rejects.toMatchObject({
      code: "TOKA_NOT_COPARTITIONED",
      message: expect.stringContaining(`${a}=4, ${b}=2`),
    });
  });

  test("an existing table with another partition count is refused", async () => {
    const input = await createTopic("orders", 4);
    const group = uniqueName("orders");
    const admin = await adminClient();
    await admin.createTopics({
      topics: [{ topic: `${group}-table`, numPartitions: 2 }],
      waitForLeaders: false,
    });
    await awaitLeaders([`${group}-table`]);
    onTestFinished(() => admin.deleteTopics({ topics: [`${group}-table`] }).catch(() => {}));
    const processor = start(orderGroup(group, input), "fail");
    await expect(processor.start()).rejects.toMatchObject({
      code: "TOKA_NOT_COPARTITIONED",
      message: expect.stringContaining(`${group}-table=2 must have the inputs' partition count 4`),
    });
  });

  test("a missing input topic is a clear error", async () => {
    const graph = orderGroup(uniqueName("orders"), uniqueName("no-such-topic"));
    const processor = start(graph, "fail");
    await expect(processor.start()).rejects.toMatchObject({ code: "TOKA_TOPIC_MISSING" });
  });
});
