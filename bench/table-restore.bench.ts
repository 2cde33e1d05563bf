// Table restore benchmark: how fast a processor with empty local state restores a table
// partition (ARCHITECTURE §5), for its own group table and for a joined table. A table
// topic is filled with a backlog of small JSON records (workload (a)'s `{count, sum}`
// values over many keys), then, each with a fresh LevelDB directory:
//   table   a group whose table it is restores it before processing;
//   join    another group that joins it restores its copy before processing.
// The time is from the first partition assigned to the last partition recovered.
//   tsx bench/table-restore.bench.ts [--records 1000000] [--keys 100000] [--partitions 8]
// Uses KAFKA_BROKERS, or starts the local broker (scripts/kafka.sh).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { parseArgs } from "node:util";
import { jsonCodec, stringCodec } from "@toka/codec";
import {
  defineGroup,
  type GroupGraph,
  join,
  Processor,
  persist,
  silentLogger,
} from "@toka/processor";
import { levelStorage } from "@toka/state-store";
import { Kafka, logLevel } from "kafkajs";
import { z } from "zod";
import { benchBrokers } from "./bench-brokers.js";
import { createTableBacklog } from "./table-backlog.js";

const { values: args } = parseArgs({
  options: {
    records: { type: "string", default: "1000000" },
    keys: { type: "string", default: "100000" },
    partitions: { type: "string", default: "8" },
  },
});
const records = Number(args.records);
const keys = Number(args.keys);
const partitions = Number(args.partitions);
const brokers = benchBrokers();
const kafka = new Kafka({ brokers, clientId: "toka-bench", logLevel: logLevel.NOTHING });
const run = `restore-${Date.now()}`;
const owner = `${run}-owner`;
const table = `${owner}-table`;
const input = `${run}-in`;
const Totals = z.object({ count: z.number(), sum: z.number() });

/** Starts a processor of `graph` with empty local state; resolves with its restore time. */
async function restore(graph: GroupGraph): Promise<number> {
  const stateDir = await mkdtemp(joinPath(tmpdir(), "toka-bench-"));
  const processor = new Processor(graph, {
    brokers,
    storage: levelStorage({ path: stateDir }),
    logger: silentLogger,
  });
  let assignedAt = 0;
  let recoveredAt = 0;
  let recovered = 0;
  const done = new Promise<void>((resolve) => {
    processor.on("partition.assigned", () => {
      assignedAt ||= Date.now();
    });
    processor.on("partition.recovered", () => {
      recoveredAt = Date.now();
      if (++recovered === partitions) resolve();
    });
  });
  await processor.start();
  await done;
  await processor.close();
  await rm(stateDir, { recursive: true, force: true });
  return (recoveredAt - assignedAt) / 1000;
}

const ownGraph = defineGroup(owner, {
  persist: persist(jsonCodec(Totals)),
  inputs: ({ input: edge }) => [edge(input, stringCodec, () => {})],
});
const joinGraph = defineGroup(`${run}-joiner`, {
  joins: [join(table, jsonCodec(Totals))],
  inputs: ({ input: edge }) => [edge(input, stringCodec, () => {})],
});

console.log(
  `table restore: ${records} records, ${keys} keys, ${partitions} partitions; brokers ${brokers.join(",")}`,
);
await createTableBacklog(kafka, { table, input, partitions, records, keys });
for (const [name, graph] of [
  ["table", ownGraph],
  ["join", joinGraph],
] as const) {
  const seconds = await restore(graph);
  console.log(
    `  ${name}: restored in ${seconds.toFixed(2)} s, ${Math.round(records / seconds)} records/s`,
  );
}
