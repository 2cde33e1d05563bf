import { jsonCodec } from "@toka/codec";
import {
  defineGroup,
  Guarantee,
  output,
  Processor,
  persist,
  silentLogger,
  TokaError,
  TokaErrorCode,
} from "@toka/processor";
import {
  DEDUP_FORMAT_WITHOUT_ORIGINS,
  DEDUP_HEADER,
  decodeDedup,
  encodeDedup,
  ORIGIN_HEADER,
} from "@toka/processor/dedup";
import type { ClientAdmin, KafkaClient } from "@toka/processor/kafka";
import { describe, expect, test } from "vitest";
import type { Tester } from "../src/index.js";
import { tester } from "./helpers.js";

const codec = jsonCodec<number>();

/** Sums amounts per key and emits each new sum. */
function summer() {
  return defineGroup("summer", {
    persist: persist(jsonCodec<number>()),
    outputs: [output("sums", jsonCodec<number>())],
    inputs: ({ input }) => [
      input("amounts", codec, (ctx, amount) => {
        const sum = (ctx.value() ?? 0) + amount;
        ctx.setValue(sum);
        ctx.emit("sums", ctx.key, sum);
      }),
    ],
  });
}

/**
 * A produce failure that is not retried: what the processor sees when its process dies
 * in the middle of writing (a retriable failure is written again in place instead).
 */
function crash() {
  return new TokaError(TokaErrorCode.KafkaFailed, "the process died while producing", {
    retriable: false,
  });
}

function setup(t: Tester, partitions = 2) {
  t.createTopic("amounts", partitions);
  t.createTopic("sums", partitions);
}

describe("exactly-once on the tester", () => {
  test("a flush whose table records start past the partition's last write logs the gap as an error", async () => {
    const t = tester();
    setup(t, 1);
    const errors: Record<string, unknown>[] = [];
    const logger = {
      ...silentLogger,
      error: (message: string, fields?: Readonly<Record<string, unknown>>) =>
        errors.push({ message, ...fields }),
    };
    const graph = summer();
    await t.startProcessor(graph, { guarantee: Guarantee.ExactlyOnce, logger });
    await t.emit("amounts", "alice", 5, { codec });
    expect(errors).toEqual([]);
    // A writer of the table partition this instance does not know of.
    t.append("summer-table", [{ key: "bob", value: 7 }], codec);
    await t.emit("amounts", "alice", 1, { codec });
    expect(errors).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/did not write/),
        partition: 0,
        tableOffset: "1",
        baseOffset: "2",
      }),
    ]);
  });

  test("a duplicate toka-id within the dedup window is applied once", async () => {
    const t = tester();
    setup(t);
    const graph = summer();
    const processor = await t.startProcessor(graph, { guarantee: Guarantee.ExactlyOnce });
    const duplicates: string[] = [];
    processor.on("message.duplicate", (e) => duplicates.push(`${e.key}:${e.id}:${e.offset}`));
    await t.emit("amounts", "alice", 5, { codec, id: "req-1" });
    await t.emit("amounts", "alice", 5, { codec, id: "req-1" }); // an upstream retry
    await t.emit("amounts", "alice", 1, { codec, id: "req-2" });
    expect(await t.tableValue(graph, "alice")).toBe(6);
    expect(duplicates).toEqual(["alice:req-1:1"]);
    expect(t.messages("sums", codec).map((m) => m.value)).toEqual([5, 6]);
    // What dedup needs travels in the table records (EO-4).
    const last = t.messages("summer-table").at(-1);
    expect(decodeDedup(last?.headers[DEDUP_HEADER])).toMatchObject({ duplicates: 1 });
  });

  // A production upgrade: a table topic written before the binary dedup format carries
  // the JSON text of the record in its toka-dedup headers.
  test("a table whose dedup headers an older toka wrote as JSON still dedups", async () => {
    const t = tester();
    setup(t, 1);
    t.createTopic("summer-table", 1, { compacted: true });
    const at = t.clock.now();
    // The older processor applied req-1 (input offset 0) but its offset commit was lost.
    await t.emit("amounts", "alice", 5, { codec, id: "req-1" });
    t.append(
      "summer-table",
      [
        {
          key: "alice",
          value: 5,
          id: "req-1:table",
          headers: {
            [DEDUP_HEADER]: `{"applied":{"amounts":"0"},"ids":[["req-1",${at}]],"duplicates":0}`,
          },
        },
      ],
      codec,
    );
    const graph = summer();
    const processor = await t.startProcessor(graph, { guarantee: Guarantee.ExactlyOnce });
    const duplicates: string[] = [];
    processor.on("message.duplicate", (e) => duplicates.push(`${e.key}:${e.id}`));
    await t.emit("amounts", "alice", 5, { codec, id: "req-1" }); // an upstream retry
    await t.emit("amounts", "alice", 1, { codec, id: "req-2" });
    expect(await t.tableValue(graph, "alice")).toBe(6);
    expect(duplicates).toEqual(["alice:req-1"]);
    expect(t.messages("sums", codec).map((m) => m.value)).toEqual([6]);
    // Written again in the current format, with what the JSON held.
    const header = t.messages("summer-table").at(-1)?.headers[DEDUP_HEADER];
    expect(header?.charCodeAt(0)).toBe(DEDUP_FORMAT_WITHOUT_ORIGINS);
    expect(decodeDedup(header)).toEqual({
      applied: { amounts: "2" },
      ids: [
        ["req-1", at],
        ["req-2", at],
      ],
      duplicates: 1,
    });
  });

  test("a duplicate older than the dedup window is applied again (the clock is the tester's)", async () => {
    const t = tester();
    setup(t);
    const graph = summer();
    await t.startProcessor(graph, {
      guarantee: Guarantee.ExactlyOnce,
      dedup: { maxAgeMs: 60_000 },
    });
    await t.emit("amounts", "alice", 5, { codec, id: "req-1" });
    t.advanceTime(59_000);
    await t.emit("amounts", "alice", 5, { codec, id: "req-1" });
    expect(await t.tableValue(graph, "alice")).toBe(5);
    t.advanceTime(2_000);
    await t.emit("amounts", "alice", 5, { codec, id: "req-1" });
    expect(await t.tableValue(graph, "alice")).toBe(10);
  });

  test("the dedup window also ends by count", async () => {
    const t = tester();
    setup(t);
    const graph = summer();
    await t.startProcessor(graph, { guarantee: Guarantee.ExactlyOnce, dedup: { idsPerKey: 2 } });
    for (const id of ["a", "b", "c"]) await t.emit("amounts", "k", 1, { codec, id });
    await t.emit("amounts", "k", 1, { codec, id: "c" }); // remembered: skipped
    await t.emit("amounts", "k", 1, { codec, id: "a" }); // forgotten: applied
    expect(await t.tableValue(graph, "k")).toBe(4);
  });

  test("redelivered inputs are not applied twice by a new instance that rebuilt its state", async () => {
    const t = tester();
    setup(t);
    const graph = summer();
    const first = await t.startProcessor(graph, { guarantee: Guarantee.ExactlyOnce });
    const keys = ["alice", "bob", "carol", "dave"];
    await t.emitMany(
      "amounts",
      keys.map((key) => ({ key, value: 1 })),
      { codec },
    );
    await first.close();
    // As after a crash before the commit: the group's offsets lag behind the table.
    for (const partition of [0, 1]) t.setCommittedOffset("summer", "amounts", partition, 0);

    const second = new Processor(graph, {
      client: t.client,
      guarantee: Guarantee.ExactlyOnce,
      logger: silentLogger,
    });
    let redelivered = 0;
    second.on("batch.processed", (e) => {
      redelivered += e.redelivered;
    });
    await t.start(second);
    expect(redelivered).toBe(4);
    for (const key of keys) expect(await t.tableValue(graph, key)).toBe(1);
    expect(t.messages("sums")).toHaveLength(4);
  });

  test("a partly written batch is redone after a restart; downstream drops the re-emit by its derived ID", async () => {
    const t = tester();
    setup(t, 1);
    const graph = summer();
    // Counts how often a sum was applied to a key.
    const downstream = defineGroup("downstream", {
      persist: persist(jsonCodec<number>()),
      inputs: ({ input }) => [input("sums", codec, (ctx) => ctx.setValue((ctx.value() ?? 0) + 1))],
    });
    const options = { guarantee: Guarantee.ExactlyOnce } as const;
    const first = await t.startProcessor(graph, options);
    const down = await t.startProcessor(downstream, options);
    const duplicates: string[] = [];
    down.on("message.duplicate", (e) => duplicates.push(e.id));
    await t.emit("amounts", "alice", 1, { codec });

    // A crash in the middle of a produce: the emit is written, the table update is not.
    t.failNextProduce({ topic: "summer-table", partial: true, error: crash() });
    await expect(t.emit("amounts", "alice", 2, { codec })).rejects.toMatchObject({
      code: TokaErrorCode.ProduceFailed,
      group: "summer",
    });
    expect(first.status).toBe("failed");
    expect(t.messages("sums", codec).map((m) => m.value)).toEqual([1, 3]);
    expect(await t.tableValue(graph, "alice")).toBe(1);

    // A new instance processes the input again and re-emits it with the same ID (EO-3).
    await t.startProcessor(graph, options);
    const sums = t.messages("sums", codec);
    expect(sums.map((m) => m.value)).toEqual([1, 3, 3]);
    expect(sums[2]?.id).toBe(sums[1]?.id);
    expect(await t.tableValue(graph, "alice")).toBe(3);
    expect(await t.tableValue(downstream, "alice")).toBe(2);
    expect(duplicates).toEqual([sums[1]?.id]);
  });

  // The copy of a redo can reach a key long after the original: here the key applies more
  // messages with IDs in between than its ID window holds (32), so only the copy's
  // `toka-origin` (its source and position there) shows it was applied.
  test("a redo's copy is dropped by its origin however many IDs the key applied since", async () => {
    const t = tester();
    setup(t, 1);
    t.createTopic("extras", 1);
    const graph = summer();
    // Counts how often a message was applied to a key.
    const downstream = defineGroup("downstream", {
      persist: persist(jsonCodec<number>()),
      inputs: ({ input }) => [
        input("sums", codec, (ctx) => ctx.setValue((ctx.value() ?? 0) + 1)),
        input("extras", codec, (ctx) => ctx.setValue((ctx.value() ?? 0) + 1)),
      ],
    });
    const options = { guarantee: Guarantee.ExactlyOnce } as const;
    await t.startProcessor(graph, options);
    const down = await t.startProcessor(downstream, options);
    const duplicates: string[] = [];
    down.on("message.duplicate", (e) => duplicates.push(e.id));
    t.failNextProduce({ topic: "summer-table", partial: true, error: crash() });
    await expect(t.emit("amounts", "alice", 2, { codec })).rejects.toMatchObject({
      code: TokaErrorCode.ProduceFailed,
    });
    const original = t.messages("sums", codec)[0]!;
    expect(original.headers[ORIGIN_HEADER]).toBe("0.1/0/amounts/summer");
    for (let i = 0; i < 40; i++) await t.emit("extras", "alice", 0, { codec, id: `extra-${i}` });
    expect(await t.tableValue(downstream, "alice")).toBe(41);

    await t.startProcessor(graph, options); // redoes the input, emits the same record again
    const copy = t.messages("sums", codec)[1]!;
    expect(copy.id).toBe(original.id);
    expect(copy.headers[ORIGIN_HEADER]).toBe(original.headers[ORIGIN_HEADER]);
    expect(await t.tableValue(downstream, "alice")).toBe(41);
    expect(duplicates).toEqual([original.id]);

    // The control: the same copy without its origin is applied again, its ID forgotten.
    t.append("sums", [{ key: "alice", value: 2, id: original.id! }], codec);
    await t.idle();
    expect(await t.tableValue(downstream, "alice")).toBe(42);
  });

  // An owner still closing (or one that had the partition while this instance had lost
  // its membership) may flush while a new owner sets the partition up. The new owner reads
  // the group's offsets before the table's end: the flush's commit is then covered by the
  // end its restore reads to, or not seen at all (and its inputs are redone).
  test("a flush by another owner while the partition is set up is restored or redone, never skipped", async () => {
    const t = tester();
    setup(t, 1);
    const graph = summer();
    const first = await t.startProcessor(graph, { guarantee: Guarantee.ExactlyOnce });
    await t.emit("amounts", "alice", 1, { codec });
    await first.close();
    await t.emit("amounts", "alice", 2, { codec }); // offset 1, for the other owner
    let flushed = false;
    const client = withAdmin(t.client, (admin) => ({
      ...admin,
      async watermarks(topic) {
        const marks = await admin.watermarks(topic);
        if (topic === "summer-table" && !flushed) {
          flushed = true;
          // Right after this end was read: the other owner's table record of offset 1,
          // then its commit.
          const dedup = encodeDedup({ applied: { amounts: "1" }, ids: [], duplicates: 0 });
          t.append(
            "summer-table",
            [
              {
                key: "alice",
                value: 3,
                id: "amounts/0/1:table",
                headers: { [DEDUP_HEADER]: Buffer.from(dedup).toString("utf8") },
              },
            ],
            codec,
          );
          await admin.commitOffsets("summer", [{ topic: "amounts", partition: 0, offset: "2" }]);
        }
        return marks;
      },
    }));
    const second = new Processor(graph, {
      client,
      guarantee: Guarantee.ExactlyOnce,
      logger: silentLogger,
    });
    await t.start(second);
    expect(flushed).toBe(true);
    await t.emit("amounts", "alice", 10, { codec });
    // 1 + 2 + 10: the input of the other owner's flush was applied once, not skipped.
    expect(t.messages("sums", codec).at(-1)?.value).toBe(13);
  });

  test("a table write that failed retriably is written again in place; the batch's emit is not sent again", async () => {
    const t = tester();
    setup(t, 1);
    const graph = summer();
    const downstream = defineGroup("downstream", {
      persist: persist(jsonCodec<number>()),
      inputs: ({ input }) => [input("sums", codec, (ctx) => ctx.setValue((ctx.value() ?? 0) + 1))],
    });
    const options = { guarantee: Guarantee.ExactlyOnce } as const;
    const first = await t.startProcessor(graph, options);
    const down = await t.startProcessor(downstream, options);
    const duplicates: string[] = [];
    down.on("message.duplicate", (e) => duplicates.push(e.id));
    await t.emit("amounts", "alice", 1, { codec });

    // A broker failing mid-produce: the emit is written (it goes out first), the table
    // update is not; only the table update is sent again.
    t.failNextProduce({ topic: "summer-table", partial: true });
    await t.emit("amounts", "alice", 2, { codec });
    expect(first.status).toBe("running");
    const sums = t.messages("sums", codec);
    expect(sums.map((m) => m.value)).toEqual([1, 3]);
    expect(await t.tableValue(graph, "alice")).toBe(3);
    expect(await t.tableValue(downstream, "alice")).toBe(2);
    expect(duplicates).toEqual([]);
  });

  test("at-least-once applies redelivered inputs again (what exactly-once prevents)", async () => {
    const t = tester();
    setup(t, 1);
    const graph = summer();
    const first = await t.startProcessor(graph);
    await t.emit("amounts", "alice", 1, { codec });
    await first.close();
    t.setCommittedOffset("summer", "amounts", 0, 0);
    await t.startProcessor(graph);
    expect(await t.tableValue(graph, "alice")).toBe(2);
    expect(() => t.setCommittedOffset("summer", "amounts", 0, 0)).toThrow(
      /while a consumer of the group runs/,
    );
  });

  test("transactional: outputs and table commit with the input offsets; markers are never delivered", async () => {
    const t = tester();
    setup(t);
    const graph = summer();
    const first = await t.startProcessor(graph, {
      guarantee: Guarantee.ExactlyOnceTransactional,
    });
    await t.emit("amounts", "alice", 2, { codec });
    await t.emit("amounts", "alice", 3, { codec });
    const partition = t.partitionOf("amounts", "alice");
    expect(t.messages("sums", codec).map((m) => [m.offset, m.value])).toEqual([
      ["0", 2],
      ["2", 5], // offset 1 holds the first transaction's commit marker
    ]);
    expect(t.committedOffset("summer", "amounts", partition)).toBe("2");
    expect(await t.tableValue(graph, "alice")).toBe(5);

    // A new instance without local state rebuilds the table across the markers.
    await first.close();
    const second = new Processor(graph, {
      client: t.client,
      guarantee: Guarantee.ExactlyOnceTransactional,
      logger: silentLogger,
    });
    let recovered = 0;
    second.on("partition.recovered", (e) => {
      recovered += e.records;
    });
    await t.start(second);
    expect(recovered).toBe(2);
    await t.emit("amounts", "alice", 1, { codec });
    expect(await t.tableValue(graph, "alice")).toBe(6);
  });

  test("transactional: a failed transaction stays invisible to read-committed readers", async () => {
    const t = tester();
    setup(t, 1);
    const graph = summer();
    const processor = await t.startProcessor(graph, {
      guarantee: Guarantee.ExactlyOnceTransactional,
    });
    await t.emit("amounts", "alice", 2, { codec });
    t.failNextProduce({ topic: "sums", error: crash() });
    await expect(t.emit("amounts", "alice", 3, { codec })).rejects.toMatchObject({
      code: TokaErrorCode.ProduceFailed,
      group: "summer",
    });
    expect(processor.status).toBe("failed");
    expect(t.messages("sums", codec).map((m) => m.value)).toEqual([2]);
    expect(t.messages("sums", codec, { isolation: "uncommitted" }).map((m) => m.value)).toEqual([
      2, 5,
    ]);
    expect(t.committedOffset("summer", "amounts", 0)).toBe("1");

    // A new instance recovers the committed table and processes the input again.
    await t.startProcessor(graph, { guarantee: Guarantee.ExactlyOnceTransactional });
    expect(await t.tableValue(graph, "alice")).toBe(5);
    expect(t.messages("sums", codec).map((m) => m.value)).toEqual([2, 5]);
  });

  test("transactional: two instances share the partitions and hand them over", async () => {
    const t = tester();
    setup(t, 4);
    const graph = summer();
    const options = { guarantee: Guarantee.ExactlyOnceTransactional } as const;
    const a = await t.startProcessor(graph, options);
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    await t.emitMany(
      "amounts",
      keys.map((key) => ({ key, value: 1 })),
      { codec },
    );
    const b = await t.startProcessor(graph, options);
    await t.emitMany(
      "amounts",
      keys.map((key) => ({ key, value: 1 })),
      { codec },
    );
    await a.close();
    await t.emitMany(
      "amounts",
      keys.map((key) => ({ key, value: 1 })),
      { codec },
    );
    expect(b.status).toBe("running");
    const table = await t.table(graph);
    for (const key of keys) expect(table.get(key)).toBe(3);
  });
});

describe("regressions", () => {
  // A produce to several partitions is not atomic. When a batch's table record (carrying
  // the key's toka-dedup applied offset) was written and its emit was not, the restarted
  // processor skipped the input as redelivered and the emit was never written. Emits now
  // go out before the table records.
  test("exactly-once: an emit is not lost when a produce writes the table update but not the emit", async () => {
    const t = tester();
    setup(t, 1);
    const graph = summer();
    const options = { guarantee: Guarantee.ExactlyOnce } as const;
    await t.startProcessor(graph, options);
    await t.emit("amounts", "alice", 1, { codec });
    t.failNextProduce({ topic: "sums", partial: true, error: crash() });
    await expect(t.emit("amounts", "alice", 2, { codec })).rejects.toMatchObject({
      code: TokaErrorCode.ProduceFailed,
    });
    // The table update waits for its emit: nothing marks the input as applied yet.
    expect(await t.tableValue(graph, "alice")).toBe(1);

    await t.startProcessor(graph, options);
    // Expected: the input is processed again (or its emit replayed) so that "sums" gets 3.
    expect(t.messages("sums", codec).map((m) => m.value)).toEqual([1, 3]);
  });
});

/** `client` with its admin changed by `change`. */
function withAdmin(client: KafkaClient, change: (admin: ClientAdmin) => ClientAdmin): KafkaClient {
  return new Proxy(client, {
    get(target, property) {
      if (property === "admin") return () => change(target.admin());
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
