// One instance of the failover benchmark's group, run as its own process: counts per key
// into a LevelDB table. Prints one JSON line per event the benchmark follows:
//   {"event":"recovered","partition":p,"records":n,"durationMs":d,"at":t}
//   {"event":"processed","partition":p,"sentAt":s,"at":t}   (each probe message)
//   {"event":"standby","partition":p,"lag":n,"at":t}        (a standby read to the end)
//   {"event":"standby-released","partition":p,"at":t}
// Configured by environment variables (see failover.bench.ts); runs until killed.
import { jsonCodec } from "@toka/codec";
import { defineGroup, Processor, persist, silentLogger } from "@toka/processor";
import { levelStorage } from "@toka/state-store";
import { z } from "zod";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const Probe = z.object({ sentAt: z.number() });
const Totals = z.object({ count: z.number(), sum: z.number() });
const say = (fields: object) => process.stdout.write(`${JSON.stringify(fields)}\n`);

const graph = defineGroup(env("FAILOVER_GROUP"), {
  persist: persist(jsonCodec(Totals)),
  inputs: ({ input }) => [
    input(env("FAILOVER_INPUT"), jsonCodec(Probe), (ctx, probe) => {
      const totals = ctx.value() ?? { count: 0, sum: 0 };
      ctx.setValue({ count: totals.count + 1, sum: totals.sum + 1 });
      say({ event: "processed", partition: ctx.partition, sentAt: probe.sentAt, at: Date.now() });
    }),
  ],
});
const processor = new Processor(graph, {
  brokers: env("KAFKA_BROKERS").split(","),
  storage: levelStorage({ path: env("FAILOVER_STATE_DIR") }),
  sessionTimeoutMs: Number(env("FAILOVER_SESSION_TIMEOUT_MS")),
  standbyReplicas: Number(env("FAILOVER_STANDBY_REPLICAS")),
  logger: silentLogger,
});
processor.on("partition.recovered", ({ partition, records, durationMs }) =>
  say({ event: "recovered", partition, records, durationMs, at: Date.now() }),
);
processor.on("standby.progress", ({ partition, lag }) =>
  say({ event: "standby", partition, lag, at: Date.now() }),
);
processor.on("standby.released", ({ partition }) =>
  say({ event: "standby-released", partition, at: Date.now() }),
);
const stop = new AbortController();
process.once("SIGTERM", () => stop.abort());
await processor.run({ signal: stop.signal });
