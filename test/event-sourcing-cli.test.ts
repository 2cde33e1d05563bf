import { fileURLToPath } from "node:url";
import { jsonCodec } from "@toka/codec";
import { startAggregate, startProjection } from "@toka/event-sourcing";
import { Emitter, silentLogger } from "@toka/processor";
import { expect, onTestFinished, test } from "vitest";
import { toka } from "./cli-runner.js";
import {
  accounts,
  Balance,
  commandCodec,
  commandSequence,
  waitForConsumed,
} from "./event-sourcing-fixture.js";
import { adminClient, brokers, readTable, uniqueName } from "./helpers.js";

const moduleFile = fileURLToPath(new URL("./event-sourcing-cli-module.ts", import.meta.url));

test("the CLI shows values and histories, computes past states, replays, switches aliases and resets a stopped group", async () => {
  const name = uniqueName("cli");
  process.env.TOKA_CLI_ACCOUNT = name;
  const { aggregate, balances } = accounts(name);
  const options = { brokers: brokers(), logger: silentLogger, sessionTimeoutMs: 6000 };
  const aggregateProcessor = await startAggregate(aggregate, { ...options, partitions: 2 });
  onTestFinished(() => aggregateProcessor.close());
  const projection = await startProjection(balances, options);
  onTestFinished(() => projection.close());
  const emitter = new Emitter({ ...options, topic: aggregate.commandsTopic, codec: commandCodec });
  onTestFinished(() => emitter.close());
  for (const [i, [key, command]] of commandSequence(5, 4, 40).entries()) {
    await emitter.emit(key, command, { id: `c${i}` });
  }
  await waitForConsumed(aggregate.name, aggregate.commandsTopic);
  await waitForConsumed(balances.name, aggregate.eventsTopic, { transactional: true });
  const live = await readTable(balances.tableTopic);
  const liveBalance = (key: string) => jsonCodec(Balance).decode(live.get(key)!.value);

  // history: raw JSON lines, and decoded through the module.
  const raw = await toka("history", "--events", aggregate.eventsTopic, "--key", "acct-1", "--json");
  expect(raw.code).toBe(0);
  const events = raw.out
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  expect(events[0]).toMatchObject({
    type: "opened",
    aggregateVersion: 1,
    value: { type: "opened" },
  });
  expect(events.map((e) => e.aggregateVersion)).toEqual(events.map((_, i) => i + 1));
  const decoded = await toka(
    "history",
    "--module",
    moduleFile,
    "--export",
    "aggregate",
    "--key",
    "acct-1",
  );
  expect(decoded.out.trim().split("\n")).toHaveLength(events.length);
  expect(decoded.out).toContain("\topened v1\t");

  // show: the projection's value of a key.
  const shown = await toka("show", "--table", balances.tableTopic, "--key", "acct-1");
  expect(shown.code).toBe(0);
  expect(JSON.parse(shown.out).value).toEqual(liveBalance("acct-1"));
  expect((await toka("show", "--table", balances.tableTopic, "--key", "nobody")).code).toBe(2);

  // state-at: now equals the live projection value; before the first event, nothing.
  const now = await toka(
    "state-at",
    "--module",
    moduleFile,
    "--export",
    "balances",
    "--key",
    "acct-1",
  );
  expect(JSON.parse(now.out).value).toEqual(liveBalance("acct-1"));
  const before = await toka(
    "state-at",
    "--module",
    moduleFile,
    "-e",
    "balances",
    "-k",
    "acct-1",
    "--time",
    "0",
  );
  expect(JSON.parse(before.out)).toMatchObject({ events: 0 });

  // replay: a new table equal to the live one, then an alias pointing at it.
  const replay = await toka("replay", "--module", moduleFile, "--export", "balances");
  expect(replay.code, replay.err).toBe(0);
  const result = JSON.parse(replay.out);
  expect(result.group).toBe(`${balances.name}-replay-1`);
  expect(replay.err).toContain(`toka alias set ${balances.name} ${result.table}`);
  const rebuilt = await readTable(result.table);
  expect([...rebuilt.keys()].sort()).toEqual([...live.keys()].sort());
  for (const [key, { value }] of rebuilt)
    expect(jsonCodec(Balance).decode(value)).toEqual(liveBalance(key));
  const aliasesTopic = uniqueName("aliases");
  expect(
    (await toka("alias", "--aliases-topic", aliasesTopic, "set", balances.name, result.table)).code,
  ).toBe(0);
  const got = await toka("alias", "--aliases-topic", aliasesTopic, "get", balances.name);
  expect(got.out.trim()).toBe(result.table);

  // reset-group: refused while the group runs; planned and applied once it stopped.
  const refused = await toka(
    "reset-group",
    "-g",
    balances.name,
    "-t",
    aggregate.eventsTopic,
    "--to-earliest",
  );
  expect(refused.code).toBe(1);
  expect(refused.err).toMatch(/group ".*" is Stable with 1 member\(s\).*stop its processors first/);
  await projection.close();
  const plan = await toka(
    "reset-group",
    "-g",
    balances.name,
    "-t",
    aggregate.eventsTopic,
    "--to-time",
    new Date(0).toISOString(),
    "--dry-run",
  );
  expect(plan.code, plan.err).toBe(0);
  expect(plan.out).toContain("(dry run)");
  expect(plan.err).toContain("keeps a table");
  const admin = await adminClient();
  const committed = async () =>
    (
      await admin.fetchOffsets({ groupId: balances.name, topics: [aggregate.eventsTopic] })
    )[0]!.partitions.map((p) => p.offset);
  const beforeReset = await committed();
  expect(beforeReset.some((o) => o !== "0")).toBe(true);
  expect(await committed()).toEqual(beforeReset);
  const applied = await toka(
    "reset-group",
    "-g",
    balances.name,
    "-t",
    aggregate.eventsTopic,
    "--to-time",
    new Date(0).toISOString(),
  );
  expect(applied.code, applied.err).toBe(0);
  expect(await committed()).toEqual(beforeReset.map(() => "0"));
});
