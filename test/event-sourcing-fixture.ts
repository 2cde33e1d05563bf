// A JSON bank account aggregate and a balance projection for the event-sourcing
// integration tests, named uniquely per test.
import { jsonCodec } from "@toka/codec";
import { defineAggregate, defineProjection, reject } from "@toka/event-sourcing";
import { z } from "zod";
import { seededRandom } from "./seeded-random.js";

export const Command = z.discriminatedUnion("type", [
  z.object({ type: z.literal("open"), owner: z.string() }),
  z.object({ type: z.literal("deposit"), amount: z.number().int().positive() }),
  z.object({ type: z.literal("withdraw"), amount: z.number().int().positive() }),
]);
export type Command = z.infer<typeof Command>;
export const Event = z.discriminatedUnion("type", [
  z.object({ type: z.literal("opened"), owner: z.string() }),
  z.object({ type: z.literal("deposited"), amount: z.number().int() }),
  z.object({ type: z.literal("withdrawn"), amount: z.number().int() }),
]);
export type Event = z.infer<typeof Event>;
export const State = z.object({ open: z.boolean(), balance: z.number().int() });
export type State = z.infer<typeof State>;
export const Balance = z.object({ balance: z.number().int(), movements: z.number().int() });
export type Balance = z.infer<typeof Balance>;
export const commandCodec = jsonCodec(Command);

export function accounts(name: string) {
  const aggregate = defineAggregate({
    name,
    commands: commandCodec,
    events: jsonCodec(Event),
    state: jsonCodec(State),
    initialState: () => ({ open: false, balance: 0 }),
    decide(command: Command, state: State): Event[] | ReturnType<typeof reject> {
      if (command.type === "open") {
        return state.open
          ? reject("already open", "already-open")
          : [{ type: "opened", owner: command.owner }];
      }
      if (!state.open) return reject("not open", "not-open");
      if (command.type === "deposit") return [{ type: "deposited", amount: command.amount }];
      if (state.balance < command.amount) return reject("insufficient funds", "insufficient-funds");
      return [{ type: "withdrawn", amount: command.amount }];
    },
    evolve(state: State, event: Event): State {
      if (event.type === "opened") return { open: true, balance: 0 };
      const delta = event.type === "deposited" ? event.amount : -event.amount;
      return { ...state, balance: state.balance + delta };
    },
  });
  const balances = defineProjection({
    name: `${name}-balances`,
    source: aggregate,
    state: jsonCodec(Balance),
    project(current: Balance | undefined, event: Event): Balance {
      const balance = current?.balance ?? 0;
      const movements = (current?.movements ?? 0) + 1;
      if (event.type === "opened") return { balance: 0, movements };
      return {
        balance: balance + (event.type === "deposited" ? event.amount : -event.amount),
        movements,
      };
    },
  });
  return { aggregate, balances };
}

/** `count` commands over `keys` accounts: opens first, then deposits and withdrawals. */
export function commandSequence(seed: number, keys: number, count: number): [string, Command][] {
  const rand = seededRandom(seed);
  const out: [string, Command][] = [];
  for (let k = 0; k < keys; k++) out.push([`acct-${k}`, { type: "open", owner: `owner-${k}` }]);
  for (let i = 0; i < count; i++) {
    const key = `acct-${Math.floor(rand() * keys)}`;
    const amount = 1 + Math.floor(rand() * 50);
    out.push([key, rand() < 0.6 ? { type: "deposit", amount } : { type: "withdraw", amount }]);
  }
  return out;
}

/**
 * Waits until `group` has consumed `topic`. With `transactional`, the topic is written in
 * transactions: each ends with one commit marker per partition it wrote, which takes an
 * offset no consumer commits past, so a caught-up group stands one before the high
 * watermark. Partitions without records need no commit.
 */
export async function waitForConsumed(
  group: string,
  topic: string,
  { transactional = false, timeoutMs = 60_000 } = {},
) {
  const { adminClient, waitUntil } = await import("./helpers.js");
  const admin = await adminClient();
  await waitUntil(
    `group ${group} to consume ${topic}`,
    async () => {
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      return ends.every((e) => {
        const at = Number(
          committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? -1,
        );
        return Math.max(at, 0) >= Number(e.high) - (transactional ? 1 : 0);
      });
    },
    { timeoutMs, intervalMs: 250 },
  );
}
