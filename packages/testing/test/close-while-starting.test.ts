import { jsonCodec } from "@toka/codec";
import {
  defineGroup,
  Processor,
  ProcessorStatus,
  persist,
  silentLogger,
  TokaError,
  TokaErrorCode,
} from "@toka/processor";
import type { KafkaClient } from "@toka/processor/kafka";
import { expect, test } from "vitest";
import { tester } from "./helpers.js";

const codec = jsonCodec<number>();

test("a close during a start that retries through an unreachable cluster stops the start and closes, with no failure", async () => {
  const t = tester();
  let attempts = 0;
  let retried = () => {};
  const retrying = new Promise<void>((resolve) => (retried = resolve));
  const client: KafkaClient = Object.create(t.client);
  client.admin = () => {
    const admin = t.client.admin();
    admin.connect = async () => {
      attempts += 1;
      if (attempts === 2) retried();
      throw new TokaError(TokaErrorCode.KafkaFailed, "no broker answers", { retriable: true });
    };
    return admin;
  };
  const graph = defineGroup("summer", {
    persist: persist(codec),
    inputs: ({ input }) => [
      input("amounts", codec, (ctx, amount) => ctx.setValue((ctx.value() ?? 0) + amount)),
    ],
  });
  const processor = new Processor(graph, { client, logger: silentLogger });
  const failures: unknown[] = [];
  processor.on("processor.failed", (error) => failures.push(error));
  const stop = new AbortController();
  const running = processor.run({ signal: stop.signal });

  // The start waits between attempts, for ever longer, through a failover's minutes.
  await retrying;
  stop.abort();
  await running;

  expect(processor.stats().status).toBe(ProcessorStatus.Closed);
  expect(failures).toEqual([]);
});
