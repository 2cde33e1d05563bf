import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jsonCodec } from "@toka/codec";
import { Emitter, type Guarantee, silentLogger, type WindowResult } from "@toka/processor";
import { defaultPartition } from "@toka/processor/kafka";
import { decodeWindowKey, readWindowRecordValue } from "@toka/state-store";
import { afterAll, beforeEach, describe, expect, onTestFinished, test } from "vitest";
import { BankWorker, waitForGroupCaughtUp } from "./bank-workers.js";
import {
  clusterTests,
  createClusterTopics,
  killNode,
  restartNode,
  startCluster,
  stopCluster,
} from "./cluster.js";
import {
  GRACE_MS,
  QUIET_MS,
  Reading,
  SESSION_GAP_MS,
  SLIDING_DIFFERENCE_MS,
  type Tally,
  TICKS,
  TUMBLING_MS,
} from "./fixtures/window-schemas.js";
import { readTable, readToEnd, tempDir, uniqueName } from "./helpers.js";
import { seededRandom as random } from "./seeded-random.js";

const fixture = fileURLToPath(new URL("./fixtures/window-processor.ts", import.meta.url));

const READINGS = 12_000;
const CHUNK = 1_000;
const KEYS = 200;
const PARTITIONS = 6;
const PROCESSES = 3;
/** Every DUPLICATE_EVERY-th reading is sent a second time with the same toka-id. */
const DUPLICATE_EVERY = 40;
/** Event time of reading i: BASE + i · STEP_MS + up to JITTER_MS, less than the grace. */
const BASE = 1_700_000_000_000;
const STEP_MS = 20;
const JITTER_MS = GRACE_MS / 2;

let brokers: string[] = [];

beforeEach(async () => {
  if (clusterTests) brokers = await startCluster();
}, 300_000);

afterAll(async () => {
  if (clusterTests) await stopCluster();
}, 120_000);

/** A window's expected or found tally, by `<key>/<start>/<end>`. */
type Tallies = Map<string, Tally>;

/**
 * The sequential model: every unique reading folded into its tumbling window, its
 * session and the sliding windows that hold it (Kafka Streams' sliding windows of the
 * key's readings: one ending at each reading, one starting just after each reading
 * that a later one follows within the difference + 1).
 */
function model(readings: readonly { key: string; reading: Reading }[]) {
  const tumbling: Tallies = new Map();
  const times = new Map<string, { at: number; amount: number }[]>();
  for (const { key, reading } of readings) {
    const start = Math.floor(reading.at / TUMBLING_MS) * TUMBLING_MS;
    add(tumbling, `${key}/${start}/${start + TUMBLING_MS}`, reading.amount);
    times.set(key, [...(times.get(key) ?? []), reading]);
  }
  const sessions: Tallies = new Map();
  for (const [key, list] of times) {
    list.sort((a, b) => a.at - b.at);
    let first = list[0]!.at;
    let tally = { sum: 0, count: 0 };
    list.forEach(({ at, amount }, i) => {
      if (i > 0 && at - list[i - 1]!.at > SESSION_GAP_MS) {
        sessions.set(`${key}/${first}/${list[i - 1]!.at + 1}`, tally);
        first = at;
        tally = { sum: 0, count: 0 };
      }
      tally = { sum: tally.sum + amount, count: tally.count + 1 };
    });
    sessions.set(`${key}/${first}/${list.at(-1)!.at + 1}`, tally);
  }
  const sliding: Tallies = new Map();
  const d = SLIDING_DIFFERENCE_MS;
  for (const [key, list] of times) {
    const starts = new Set<number>();
    for (const { at } of list) {
      starts.add(Math.max(0, at - d));
      if (list.some((later) => later.at > at && later.at <= at + 1 + d)) starts.add(at + 1);
    }
    for (const start of starts) {
      const inside = list.filter(({ at }) => at >= start && at <= start + d);
      const tally = {
        sum: inside.reduce((sum, { amount }) => sum + amount, 0),
        count: inside.length,
      };
      sliding.set(`${key}/${start}/${start + d + 1}`, tally);
    }
  }
  return { tumbling, sessions, sliding };
}

function add(tallies: Tallies, window: string, amount: number) {
  const tally = tallies.get(window) ?? { sum: 0, count: 0 };
  tallies.set(window, { sum: tally.sum + amount, count: tally.count + 1 });
}

/** The final results of an output, read_committed: per window, every copy's tally and ID. */
async function finals(topic: string) {
  const copies = new Map<string, { id: string; tally: Tally; at: string }[]>();
  const codec = jsonCodec<WindowResult<Tally>>();
  await readToEnd(
    topic,
    (m, partition) => {
      const result = codec.decode(m.value!);
      const window = `${result.key}/${result.start}/${result.end}`;
      const id = m.headers?.["toka-id"]?.toString() ?? "";
      const list = copies.get(window) ?? [];
      list.push({ id, tally: result.value, at: `${partition}@${m.offset}` });
      copies.set(window, list);
    },
    brokers,
  );
  return copies;
}

/**
 * Runs READINGS readings (some repeated with their ID) through PROCESSES processes of
 * the windows fixture on the three-node cluster, SIGKILLing processes (restarted) and
 * one broker (restarted two chunks later on its data), then one reading per partition
 * far in event time to close every window and fire every timer; returns the final
 * results of both outputs and the model's, and with `timers` what the readings' timers
 * did (the table's count per key, the fired output's IDs).
 */
async function windowsUnderChaos(guarantee: Guarantee, seed: number, { timers = false } = {}) {
  console.log(`windows under chaos (${guarantee}${timers ? ", timers" : ""}): seed ${seed}`);
  const rand = random(seed);
  const input = uniqueName("readings");
  const tumblingOut = uniqueName("tumbling");
  const sessionsOut = uniqueName("sessions");
  const slidingOut = uniqueName("sliding");
  const firedOut = uniqueName("fired");
  await createClusterTopics(
    brokers,
    [input, tumblingOut, sessionsOut, slidingOut, firedOut],
    PARTITIONS,
  );
  const group = uniqueName("windows");
  const env = {
    KAFKA_BROKERS: brokers.join(","),
    TOKA_GROUP: group,
    TOKA_INPUT: input,
    TOKA_TUMBLING: tumblingOut,
    TOKA_SESSIONS: sessionsOut,
    TOKA_SLIDING: slidingOut,
    TOKA_GUARANTEE: guarantee,
    TOKA_REPLICATION_FACTOR: "3",
    ...(timers ? { TOKA_FIRED: firedOut } : {}),
  };
  const root = await tempDir();
  const workers = Array.from({ length: PROCESSES }, (_, i) =>
    new BankWorker(env, join(root, `instance-${i}`), fixture).start(),
  );
  const emitter = new Emitter({
    brokers,
    topic: input,
    codec: jsonCodec(Reading),
    logger: silentLogger,
  });
  onTestFinished(() => emitter.close());

  const sent: { key: string; reading: Reading; id: string }[] = [];
  const chaos: string[] = [];
  const chunks = READINGS / CHUNK;
  const brokerKilledAt = 2 + Math.floor(rand() * (chunks - 5));
  let killed: number | undefined;
  for (let chunk = 0; chunk < chunks; chunk++) {
    if (chunk === brokerKilledAt) {
      killed = 1 + Math.floor(rand() * 3);
      await killNode(killed);
      chaos.push(`broker ${killed} killed before chunk ${chunk}`);
    } else if (killed !== undefined && chunk === brokerKilledAt + 2) {
      await restartNode(killed);
      chaos.push(`broker ${killed} restarted on its data before chunk ${chunk}`);
    } else if (rand() < 0.6) {
      const index = Math.floor(rand() * workers.length);
      await workers[index]!.kill();
      workers[index]!.start();
      chaos.push(`process ${index} killed and restarted before chunk ${chunk}`);
    }
    const sends: Promise<void>[] = [];
    for (let i = chunk * CHUNK; i < (chunk + 1) * CHUNK; i++) {
      const key = `sensor-${Math.floor(rand() * KEYS)}`;
      const reading = {
        amount: 1 + Math.floor(rand() * 100),
        at: BASE + i * STEP_MS + Math.floor(rand() * JITTER_MS),
      };
      const id = `reading-${i}`;
      sent.push({ key, reading, id });
      sends.push(emitter.emit(key, reading, { id }));
      // An upstream retry: the same reading, the same ID.
      if (i % DUPLICATE_EVERY === 0) sends.push(emitter.emit(key, reading, { id }));
    }
    await Promise.all(sends);
    await new Promise((resolve) => setTimeout(resolve, 300 + rand() * 700));
  }
  // Stream time far ahead in every partition: every window of the readings closes.
  for (let partition = 0; partition < PARTITIONS; partition++) {
    let n = 0;
    while (defaultPartition(`closer-${n}`, PARTITIONS) !== partition) n++;
    await emitter.emit(`closer-${n}`, { amount: 0, at: BASE + 10 * 60 * 60 * 1000 });
  }
  await emitter.close();
  console.log(`windows under chaos (${guarantee}): ${chaos.join("; ")}`);

  await waitForGroupCaughtUp(group, input, 240_000, brokers).catch((error: Error) => {
    const logs = workers.map((w, i) => `worker ${i}:\n${w.log.slice(-30).join("\n")}`);
    throw new Error(`${error.message}\n${logs.join("\n")}`, { cause: error });
  });
  for (const worker of workers) await worker.stop();
  const timerCounts = new Map<string, number>();
  const tickCounts = new Map<string, number>();
  const firedIds = new Map<string, number>();
  if (timers) {
    for (const [key, { value }] of await readTable(`${group}-table`, brokers)) {
      const { timers, ticks } = JSON.parse(value.toString());
      timerCounts.set(key, timers);
      tickCounts.set(key, ticks);
    }
    await readToEnd(
      firedOut,
      (m) => {
        const id = m.headers?.["toka-id"]?.toString() ?? "";
        firedIds.set(id, (firedIds.get(id) ?? 0) + 1);
      },
      brokers,
    );
  }
  return {
    timerCounts,
    tickCounts,
    firedIds,
    group,
    chaos,
    sent,
    expected: model(sent),
    found: {
      tumbling: await finals(tumblingOut),
      sessions: await finals(sessionsOut),
      sliding: await finals(slidingOut),
    },
    total: sent.reduce((sum, { reading }) => sum + reading.amount, 0),
    failures: workers.flatMap((w) => w.failures),
    late: workers.reduce((sum, w) => sum + (w.events.get("late") ?? 0), 0),
  };
}

type Run = Awaited<ReturnType<typeof windowsUnderChaos>>;

/**
 * The checks of the readings' timers: each fired once (the key's table counts every
 * reading once) and its emit has one ID (`exactlyOnceOutput`: one copy of it); and every
 * key's self-rescheduling tick fired exactly TICKS times, none lost to a crash between
 * the next tick's write and the table's, none twice.
 */
function expectTimersOnce(run: Run, exactlyOnceOutput: boolean) {
  const expected = new Map<string, number>();
  for (const { key } of run.sent) expected.set(key, (expected.get(key) ?? 0) + 1);
  const wrong = [...expected]
    .filter(([key, n]) => run.timerCounts.get(key) !== n)
    .map(([key, n]) => [key, n, run.timerCounts.get(key)]);
  expect(
    wrong.slice(0, 10),
    `timers fired per key (key, readings, fired), ${wrong.length} wrong; group ${run.group}`,
  ).toEqual([]);
  const wrongTicks = [...expected.keys()]
    .filter((key) => run.tickCounts.get(key) !== TICKS)
    .map((key) => [key, run.tickCounts.get(key)]);
  expect(
    wrongTicks.slice(0, 10),
    `ticks per key (key, ticks), ${wrongTicks.length} not ${TICKS}; group ${run.group}`,
  ).toEqual([]);
  // A timer's emit derives its ID from the timer: group, clock, name, key, time and
  // sequence (1: each reading's timer has a name of its own, scheduled once).
  const ids = run.sent.map(
    ({ key, id, reading }) => `${run.group}/timer/stream/${id}/${key}/${reading.at + QUIET_MS}/1:1`,
  );
  const missing = ids.filter((id) => !run.firedIds.has(id));
  expect(missing.slice(0, 10), `timer emits missing (${missing.length})`).toEqual([]);
  expect(run.firedIds.size, "no other timer emits").toBe(ids.length);
  if (exactlyOnceOutput) {
    const repeated = [...run.firedIds].filter(([, n]) => n !== 1);
    expect(repeated.slice(0, 10), `fired emits seen more than once (${repeated.length})`).toEqual(
      [],
    );
  }
}

/**
 * The evidence of a wrong window: every record of it in the aggregate's windowed table
 * topic (where, its end, whether it says its final was emitted, its tally).
 */
async function windowHistory(group: string, aggregate: string, windows: readonly string[]) {
  const wanted = new Set(windows.map((w) => w.split("/").slice(0, 2).join("/")));
  const history: string[] = [];
  await readToEnd(
    `${group}-${aggregate}-windows`,
    (m, partition) => {
      const { key, start } = decodeWindowKey(m.key!.toString());
      if (!wanted.has(`${key}/${start}`)) return;
      const record = m.value && readWindowRecordValue(m.value);
      const flags = record?.value[0] ?? 0;
      const final = record ? (flags & 1) === 1 : undefined;
      // Sliding windows keep their latest record time (8 bytes) after the flags.
      const tally = record?.value.subarray(flags & 2 ? 9 : 1).toString();
      history.push(
        `${key}/${start} at ${partition}@${m.offset}: end ${record?.end} final ${final} ${tally}`,
      );
    },
    brokers,
  );
  return history;
}

/** Windows whose final result differs from the model, as [window, expected, found copies]. */
function wrongWindows(expected: Tallies, found: Run["found"]["tumbling"]) {
  const wrong: [string, Tally | undefined, Tally[]][] = [];
  for (const window of new Set([...expected.keys(), ...found.keys()])) {
    const want = expected.get(window);
    const copies = (found.get(window) ?? []).map((c) => c.tally);
    const exact =
      want !== undefined &&
      copies.length > 0 &&
      copies.every((c) => c.sum === want.sum && c.count === want.count);
    if (!exact) wrong.push([window, want, copies]);
  }
  return wrong;
}

/** The checks of the exactly-once guarantees, with their evidence. */
async function expectExact(run: Run) {
  const context = `group ${run.group}; chaos: ${run.chaos.join("; ")}`;
  expect(run.failures, `no processor stopped; ${context}`).toEqual([]);
  expect(run.late, `no reading was late; ${context}`).toBe(0);
  for (const kind of ["tumbling", "sessions", "sliding"] as const) {
    const wrong = wrongWindows(run.expected[kind], run.found[kind]);
    const history =
      wrong.length === 0
        ? []
        : await windowHistory(
            run.group,
            kind,
            wrong.slice(0, 3).map(([window]) => window),
          );
    expect(
      wrong.slice(0, 10),
      `${kind} windows differ from the model (first 10 of ${wrong.length}); their records: ${history.join("; ")}; ${context}`,
    ).toEqual([]);
    // The conserved quantity: every reading's amount is in exactly one final tumbling
    // window and one session (a sliding window shares readings with its neighbours).
    if (kind !== "sliding") {
      let sum = 0;
      for (const copies of run.found[kind].values()) sum += copies[0]!.tally.sum;
      expect(sum, `${kind}: the finals' sums add up to what was sent; ${context}`).toBe(run.total);
    }
    // A repeated final (exactly-once without transactions may send one again) has the
    // ID of the window, so a consumer recognizes it.
    for (const [window, copies] of run.found[kind]) {
      expect(new Set(copies.map((c) => c.id)).size, `${kind} ${window} IDs`).toBe(1);
    }
  }
}

/** Under transactions a read_committed consumer sees each window's final once. */
function expectFinalsOnce(run: Run) {
  for (const kind of ["tumbling", "sessions", "sliding"] as const) {
    const repeated = [...run.found[kind]].filter(([, copies]) => copies.length !== 1);
    expect(
      repeated.slice(0, 10),
      `${kind} finals seen more than once (${repeated.length})`,
    ).toEqual([]);
  }
}

describe.runIf(clusterTests)(
  "windowed aggregates on a three-node cluster, processes and a broker killed",
  () => {
    test("exactly-once, with timers: every window, session and timer as the model has it", async () => {
      const run = await windowsUnderChaos("exactly-once", 21, { timers: true });
      await expectExact(run);
      expectTimersOnce(run, false);
    }, 600_000);

    test("exactly-once-transactional, windows alone: the model's finals, each once for a read_committed consumer", async () => {
      const run = await windowsUnderChaos("exactly-once-transactional", 22);
      await expectExact(run);
      expectFinalsOnce(run);
    }, 600_000);

    test("exactly-once-transactional, with timers: finals and timer emits each once", async () => {
      const run = await windowsUnderChaos("exactly-once-transactional", 24, { timers: true });
      await expectExact(run);
      expectFinalsOnce(run);
      expectTimersOnce(run, true);
    }, 600_000);

    test("at-least-once, the same workload: the check sees readings counted twice", async () => {
      const run = await windowsUnderChaos("at-least-once", 23, { timers: true });
      expect(run.failures).toEqual([]);
      // Repeated readings are folded again here: some windows come out too high.
      const wrong = wrongWindows(run.expected.tumbling, run.found.tumbling);
      expect(wrong.length).toBeGreaterThan(0);
    }, 600_000);
  },
);
