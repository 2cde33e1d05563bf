// Event-sourcing benchmark, in one process, against one broker:
//   (b) workload (b) of ARCHITECTURE §11: protobuf commands → events → state, through
//       the bank example's account aggregate (exactly-once-transactional, the default, and
//       exactly-once), against the raw kafkajs consume→decide→produce pipe of the same
//       commands (the baseline: no state, no guarantees);
//   (r) replay throughput: a log of --events protobuf events over --keys accounts,
//       rebuilt into a fresh table by a Replay and, for comparison, by a projection
//       group running on the processor, against the raw kafkajs read of the same log
//       (and, for reference, the raw read through toka's log reader, which Replay uses).
//   tsx bench/event-sourcing.bench.ts [--events 1000000] [--keys 100000] [--commands 200000]
//                                     [--accounts 10000] [--partitions 8] [--phases b,r]
// Uses KAFKA_BROKERS, or starts the local broker (scripts/kafka.sh).
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { protobufCodec } from "@toka/codec";
import { EventHeader, Replay, startAggregate, startProjection } from "@toka/event-sourcing";
import { type Processor, silentLogger } from "@toka/processor";
import { kafkajsClient } from "@toka/processor/kafka";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { accountAggregate, decide } from "../examples/4-bank/src/account.js";
import { balancesProjection } from "../examples/4-bank/src/balances.js";
import {
  AccountCommandSchema,
  AccountEventSchema,
  AccountStateSchema,
} from "../examples/4-bank/src/gen/bank/v1/account_pb.js";

import { benchBrokers } from "./bench-brokers.js";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    keys: { type: "string", default: "100000" },
    commands: { type: "string", default: "200000" },
    accounts: { type: "string", default: "10000" },
    partitions: { type: "string", default: "8" },
    phases: { type: "string", default: "b,r" },
  },
});
const events = Number(args.events);
const keys = Number(args.keys);
const commands = Number(args.commands);
const accounts = Number(args.accounts);
const partitions = Number(args.partitions);
const phases = new Set(args.phases.split(","));

const brokers = benchBrokers();
const kafka = new Kafka({ brokers, clientId: "toka-bench-es", logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const run = randomBytes(3).toString("hex");
const options = { brokers, logger: silentLogger };

interface Row {
  readonly name: string;
  readonly count: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly baseline: string;
}
const rows: Row[] = [];
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

async function createTopics(...names: string[]) {
  await admin.createTopics({
    waitForLeaders: true,
    topics: names.map((topic) => ({ topic, numPartitions: partitions })),
  });
}

/** Produces `count` records made by `make`, 10 000 per request. */
async function produce(
  topic: string,
  count: number,
  make: (i: number) => { key: string; value: Buffer; headers?: Record<string, string> },
) {
  const producer = kafka.producer({
    idempotent: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  for (let sent = 0; sent < count; sent += 10_000) {
    const n = Math.min(10_000, count - sent);
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: n }, (_, i) => make(sent + i)),
    });
  }
  await producer.disconnect();
}

/**
 * Resolves once `processor` has processed every partition of `topic` up to its end. Read
 * from the processor, not from committed offsets: a commit that fails (a rebalance
 * during a long batch) is not retried while no new input arrives.
 */
async function processed(processor: Processor, topic: string) {
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((e) => [e.partition, e.high]));
  for (;;) {
    const { partitions: owned } = processor.stats();
    const done =
      owned.length === ends.size &&
      owned.every((p) => {
        const at = p.inputs.find((i) => i.topic === topic)?.offset;
        const end = ends.get(p.partition);
        return end === "0" || (at !== undefined && BigInt(at) >= BigInt(end ?? "0"));
      });
    if (done) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Times `work`, which handles `count` items. */
async function measure(
  name: string,
  count: number,
  baseline: Row | undefined,
  work: () => Promise<void>,
) {
  const started = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const perSecond = count / seconds;
  const row = {
    name,
    count,
    seconds,
    perSecond,
    baseline: baseline ? (perSecond / baseline.perSecond).toFixed(2) : "1.00",
  };
  rows.push(row);
  console.log(
    `  ${name}: ${count} in ${seconds.toFixed(1)} s = ${Math.round(perSecond)}/s (peak RSS so far ${rssMb()} MB)`,
  );
  return row;
}

/** The raw kafkajs read of a whole topic: the ceiling of any reader on this client. */
async function rawRead(topic: string, total: number) {
  const consumer = kafka.consumer({
    groupId: `raw-${run}-${randomBytes(3).toString("hex")}`,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      partitionsConsumedConcurrently: partitions,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= total) resolve();
      },
    });
  });
  await consumer.disconnect();
}

/** The same read through `KafkaClient.readLog`, which replays use: no fold, no writes. */
async function readWithLogReader(topic: string) {
  const client = kafkajsClient({ brokers, clientId: "toka-bench-es", logger: silentLogger });
  const admin = client.admin();
  await admin.connect();
  const marks = await admin.watermarks(topic);
  await admin.disconnect();
  let bytes = 0;
  await client.readLog(
    {
      topic,
      ranges: marks.map((m) => ({ partition: m.partition, start: m.low, end: m.high })),
      readCommitted: true,
      maxBytesPerPartition: 4 * 1024 * 1024,
    },
    async ({ records }) => {
      // Touch what a replay touches: the key, the event ID and the value.
      for (const r of records)
        bytes +=
          r.keyText().length + (r.header("toka-id")?.length ?? 0) + (r.value?.byteLength ?? 0);
    },
  );
  if (bytes === 0) throw new Error("the log reader read nothing");
}

if (phases.has("b")) {
  console.log(
    `workload (b): ${commands} protobuf commands over ${accounts} accounts, ${partitions} partitions`,
  );
  const commandCodec = protobufCodec(AccountCommandSchema);
  const eventCodec = protobufCodec(AccountEventSchema);
  const makeCommand = (i: number) => {
    const key = `acct-${i % accounts}`;
    const command =
      i < accounts
        ? create(AccountCommandSchema, { command: { case: "open", value: { owner: key } } })
        : create(AccountCommandSchema, {
            command: { case: "deposit", value: { amountCents: BigInt(1 + (i % 1000)) } },
          });
    return {
      key,
      value: Buffer.from(commandCodec.encode(command)),
      headers: { "toka-id": `cmd-${i}` },
    };
  };
  const input = `bench-es-${run}-commands`;
  await createTopics(input, `${input}-raw-out`);
  await produce(input, commands, makeCommand);

  // Baseline: consume, decode, decide against nothing, encode and produce one event per command.
  const pipe = await measure(
    "raw kafkajs consume→decide→produce",
    commands,
    undefined,
    async () => {
      const producer = kafka.producer({
        idempotent: true,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      const consumer = kafka.consumer({
        groupId: `raw-pipe-${run}`,
        maxBytesPerPartition: 1024 * 1024,
        maxWaitTimeInMs: 500,
      });
      await consumer.connect();
      await consumer.subscribe({ topic: input, fromBeginning: true });
      let seen = 0;
      const initial = create(AccountStateSchema, { open: true });
      await new Promise<void>((resolve) => {
        void consumer.run({
          partitionsConsumedConcurrently: partitions,
          eachBatch: async ({ batch }) => {
            const out = [];
            for (const m of batch.messages) {
              const decided = decide(commandCodec.decode(m.value!), initial);
              if (Array.isArray(decided)) {
                for (const e of decided)
                  out.push({ key: m.key, value: Buffer.from(eventCodec.encode(e)) });
              }
            }
            // Requests of at most 5 000 records, as toka's client sends them: one request
            // with a whole fetch of small records stalls the kafkajs producer.
            for (let i = 0; i < out.length; i += 5_000) {
              await producer.send({
                topic: `${input}-raw-out`,
                acks: -1,
                messages: out.slice(i, i + 5_000),
              });
            }
            seen += batch.messages.length;
            if (seen >= commands) resolve();
          },
        });
      });
      await consumer.disconnect();
      await producer.disconnect();
    },
  );

  for (const guarantee of ["exactly-once-transactional", "exactly-once"] as const) {
    // A copy of the commands per run, so each aggregate starts from the same backlog.
    const name = `bench-es-${run}-${guarantee === "exactly-once" ? "eo" : "tx"}`;
    await createTopics(`${name}-commands`);
    await produce(`${name}-commands`, commands, makeCommand);
    const account = accountAggregate(name);
    await measure(`aggregate, ${guarantee}`, commands, pipe, async () => {
      const processor = await startAggregate(account, { ...options, guarantee });
      await processed(processor, account.commandsTopic);
      await processor.close();
    });
  }
}

if (phases.has("r")) {
  console.log(`replay: ${events} protobuf events over ${keys} accounts, ${partitions} partitions`);
  const account = accountAggregate(`bench-es-${run}-log`);
  const balances = balancesProjection(account);
  await createTopics(account.eventsTopic);
  const version = new Map<string, number>();
  const opened = new Set<string>();
  await produce(account.eventsTopic, events, (i) => {
    const key = `acct-${(i * 7919) % keys}`;
    const v = (version.get(key) ?? 0) + 1;
    version.set(key, v);
    const first = !opened.has(key);
    opened.add(key);
    const event = create(AccountEventSchema, {
      event: first
        ? { case: "opened", value: { owner: key } }
        : { case: "deposited", value: { amountCents: BigInt(1 + (i % 1000)) } },
    });
    return {
      key,
      value: Buffer.from(toBinary(AccountEventSchema, event)),
      // The headers an aggregate writes.
      headers: {
        "toka-id": `cmd-${i}:1`,
        [EventHeader.Type]: first ? "opened" : "deposited",
        [EventHeader.AggregateVersion]: String(v),
        [EventHeader.SchemaVersion]: "1",
        [EventHeader.CommandId]: `cmd-${i}`,
        [EventHeader.CommandEvents]: "1",
      },
    };
  });
  version.clear();

  const raw = await measure("raw kafkajs read of the log", events, undefined, () =>
    rawRead(account.eventsTopic, events),
  );
  await measure("raw read of the log with toka's log reader", events, raw, () =>
    readWithLogReader(account.eventsTopic),
  );
  let replayed = 0;
  await measure("Replay into a fresh table", events, raw, async () => {
    const result = await new Replay(balances, options).run();
    replayed = result.keys;
  });
  console.log(`    (${replayed} keys in the new table)`);
  await measure("projection group on the processor (exactly-once)", events, raw, async () => {
    const processor = await startProjection(balances, {
      ...options,
      group: `${balances.name}-processor`,
    });
    await processed(processor, account.eventsTopic);
    await processor.close();
  });
}
await admin.disconnect();

console.log(`\n| run | items | seconds | items/s | ratio to its baseline |`);
console.log("|---|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.count} | ${r.seconds.toFixed(1)} | ${Math.round(r.perSecond)} | ${r.baseline} |`,
  );
}
console.log(`peak RSS of the whole run: ${rssMb()} MB`);
process.exit(0);
