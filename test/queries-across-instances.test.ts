import { jsonCodec } from "@toka/codec";
import {
  defineGroup,
  Emitter,
  Processor,
  ProcessorStatus,
  persist,
  QueryHeader,
  type QueryService,
  queryClient,
  serveViews,
  silentLogger,
} from "@toka/processor";
import { defaultPartition } from "@toka/processor/kafka";
import { describe, expect, onTestFinished, test } from "vitest";
import { z } from "zod";
import { brokers, createTopic, uniqueName, waitUntil } from "./helpers.js";
import { seededRandom } from "./seeded-random.js";

const PARTITIONS = 6;
const KEYS = 40;
const Deposit = z.object({ amount: z.number().int() });
const Balance = z.object({ total: z.number().int(), deposits: z.number().int() });
type Balance = z.infer<typeof Balance>;

interface Instance {
  readonly processor: Processor;
  readonly service: QueryService;
}

/** A processor whose query service serves its own table, advertised to the group. */
async function instance(group: string, deposits: string): Promise<Instance> {
  const graph = defineGroup(group, {
    persist: persist(jsonCodec(Balance)),
    inputs: ({ input }) => [
      input(deposits, jsonCodec(Deposit), (ctx, msg) => {
        const b = ctx.value() ?? { total: 0, deposits: 0 };
        ctx.setValue({ total: b.total + msg.amount, deposits: b.deposits + 1 });
      }),
    ],
  });
  let service: QueryService | undefined;
  const processor = new Processor(graph, {
    brokers: brokers(),
    logger: silentLogger,
    // The service listens on a port the OS picks, known once it is started below.
    queryAddress: () => service!.url,
  });
  service = await serveViews({
    views: { balances: processor.ownedTable() },
    processors: { bank: processor },
    logger: silentLogger,
  });
  const served = service;
  onTestFinished(async () => {
    await processor.close();
    await served.close();
  });
  return { processor, service };
}

/** The instance processing `key`'s partition now, by its own partitions. */
function processing(instances: readonly Instance[], key: string): Instance | undefined {
  const partition = defaultPartition(key, PARTITIONS);
  return instances.find((i) =>
    i.processor.stats().partitions.some((p) => p.partition === partition && p.state === "running"),
  );
}

/** Every instance running, and each knowing the same owners, one address per instance. */
function settled(instances: readonly Instance[]): boolean {
  const addresses = new Set(instances.map((i) => i.service.url));
  return instances.every((i) => {
    const owners = i.processor.partitionOwners;
    return (
      i.processor.status === ProcessorStatus.Running &&
      owners?.partitionCount === PARTITIONS &&
      owners.addresses.size === PARTITIONS &&
      new Set(owners.addresses.values()).size === addresses.size &&
      [...owners.addresses.values()].every((a) => addresses.has(a)) &&
      [...owners.addresses].every(([p, a]) =>
        instances
          .find((x) => x.service.url === a)!
          .processor.stats()
          .partitions.some((s) => s.partition === p),
      )
    );
  });
}

describe("queries across instances", () => {
  test("any of 3 instances answers for any key, naming the owner; a rebalance gives defined answers", async () => {
    const seed = Number(process.env.TOKA_QUERY_SEED ?? Date.now() % 2 ** 31);
    const random = seededRandom(seed);
    console.log(`queries across instances seed ${seed} (rerun with TOKA_QUERY_SEED=${seed})`);
    const deposits = await createTopic("q-deposits", PARTITIONS);
    const group = uniqueName("q-bank");
    const instances = [
      await instance(group, deposits),
      await instance(group, deposits),
      await instance(group, deposits),
    ];
    await Promise.all(instances.map((i) => i.processor.start()));
    await waitUntil("three instances sharing the partitions and their owners", () =>
      settled(instances),
    );

    const emitter = new Emitter({
      brokers: brokers(),
      topic: deposits,
      codec: jsonCodec(Deposit),
      logger: silentLogger,
    });
    onTestFinished(() => emitter.close());
    const expected = new Map<string, Balance>();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < KEYS * 3; i++) {
      const key = `acct-${Math.floor(random() * KEYS)}`;
      const amount = 1 + Math.floor(random() * 100);
      const b = expected.get(key) ?? { total: 0, deposits: 0 };
      expected.set(key, { total: b.total + amount, deposits: b.deposits + 1 });
      sends.push(emitter.emit(key, { amount }));
    }
    await Promise.all(sends);

    const clients = instances.map((i) => queryClient<{ balances: Balance }>(i.service.url));
    await waitUntil("every deposit applied", async () => {
      for (const [key, balance] of expected) {
        const answer = await clients[0]!.get("balances", key);
        if (!answer.found || answer.value.deposits !== balance.deposits) return false;
      }
      return true;
    });

    // Every instance answers for every key with its value, named by the key's owner.
    const forwarded = new Map(instances.map((i) => [i.service.url, 0]));
    for (const [key, balance] of expected) {
      const owner = processing(instances, key)!;
      for (const [n, client] of clients.entries()) {
        expect(await client.get("balances", key)).toEqual({
          found: true,
          value: balance,
          answeredBy: owner.service.url,
        });
        expect(instances[n]!.processor.ownerOf(key)).toBe(owner.service.url);
        const asked = instances[n]!.service.url;
        if (owner.service.url !== asked) forwarded.set(asked, forwarded.get(asked)! + 1);
      }
    }
    // Each instance owns some keys and forwarded the rest.
    for (const count of forwarded.values()) expect(count).toBeGreaterThan(0);
    for (const client of clients) {
      const missing = await client.get("balances", "nobody-has-this-key");
      expect(missing).toEqual({
        found: false,
        answeredBy: processing(instances, "nobody-has-this-key")!.service.url,
      });
    }

    // A rebalance: the third instance leaves while the others are asked for every key.
    // Each answer is the key's value or a 503 that says to retry; never a 404 or an error.
    const [a, b, c] = instances as [Instance, Instance, Instance];
    const answers: { status: number; body: unknown; retryAfter: string | null }[] = [];
    let leaving = true;
    const asking = (async () => {
      while (leaving) {
        for (const [key] of expected) {
          for (const asked of [a, b]) {
            const response = await fetch(`${asked.service.url}/balances/${key}`);
            answers.push({
              status: response.status,
              body: { key, answer: await response.json() },
              retryAfter: response.headers.get("retry-after"),
            });
          }
        }
      }
    })();
    await c.processor.close();
    await waitUntil("two instances sharing the partitions and their owners", () => settled([a, b]));
    leaving = false;
    await asking;
    expect(answers.length).toBeGreaterThan(0);
    const statuses = answers.map((x) => x.status);
    console.log(
      `during the rebalance: ${statuses.filter((s) => s === 200).length} values, ${statuses.filter((s) => s === 503).length} retries`,
    );
    for (const { status, body, retryAfter } of answers) {
      const { key, answer } = body as { key: string; answer: unknown };
      if (status === 503) {
        expect(retryAfter).toBe("1");
        // Unknown owner, a forward that found no owner, or an owner already closing.
        expect(answer).toMatchObject({ error: expect.stringMatching(/retry|try again/) });
      } else {
        expect({ key, status, answer }).toEqual({ key, status: 200, answer: expected.get(key) });
      }
    }
    // The instance that left answers 503 (its processor is closed), naming its state.
    const someKey = [...expected.keys()][0]!;
    const closed = await fetch(`${c.service.url}/balances/${someKey}`);
    expect(closed.status).toBe(503);
    expect(await closed.json()).toMatchObject({ status: "closed" });

    // After the rebalance the two left answer for every key, named by the new owner.
    for (const [key, balance] of expected) {
      const owner = processing([a, b], key)!;
      for (const client of clients.slice(0, 2)) {
        const answer = await client.get("balances", key);
        expect(answer).toEqual({ found: true, value: balance, answeredBy: owner.service.url });
      }
    }
    const raw = await fetch(`${a.service.url}/balances/${someKey}`);
    expect(raw.headers.get(QueryHeader.AnsweredBy)).toBe(processing([a, b], someKey)!.service.url);
  });
});
