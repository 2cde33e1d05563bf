import { create } from "@bufbuild/protobuf";
import { protobufCodec } from "@toka/codec";
import { defineAggregate, reject } from "@toka/event-sourcing";
import {
  type AccountCommand,
  AccountCommandSchema,
  type AccountEvent,
  AccountEventSchema,
  AccountOpenedSchema,
  type AccountState,
  AccountStateSchema,
  MoneyDepositedSchema,
  MoneyWithdrawnSchema,
} from "./gen/bank/v1/account_pb.js";

/** The codec of account commands (protobuf `bank.v1.AccountCommand`). */
export const accountCommandCodec = protobufCodec(AccountCommandSchema);

/** An event with one case of the `AccountEvent` oneof. */
function event(value: AccountEvent["event"]): AccountEvent {
  return create(AccountEventSchema, { event: value });
}

/** Applies one event to an account: the only place an account's state changes. */
export function evolve(state: AccountState, e: AccountEvent): AccountState {
  switch (e.event.case) {
    case "opened":
      return create(AccountStateSchema, {
        open: true,
        owner: e.event.value.owner,
        balanceCents: 0n,
      });
    case "deposited":
      return { ...state, balanceCents: state.balanceCents + e.event.value.amountCents };
    case "withdrawn":
      return { ...state, balanceCents: state.balanceCents - e.event.value.amountCents };
    default:
      return state;
  }
}

/** Decides what a command does to an account: events, or a rejection with its reason. */
export function decide(command: AccountCommand, state: AccountState) {
  const c = command.command;
  switch (c.case) {
    case "open":
      if (state.open) return reject("the account is already open", "already-open");
      if (c.value.owner === "") return reject("an account needs an owner", "invalid-command");
      return [
        event({ case: "opened", value: create(AccountOpenedSchema, { owner: c.value.owner }) }),
      ];
    case "deposit":
      if (!state.open) return reject("the account is not open", "not-open");
      if (c.value.amountCents <= 0n) return reject("a deposit must be positive", "invalid-command");
      return [
        event({
          case: "deposited",
          value: create(MoneyDepositedSchema, { amountCents: c.value.amountCents }),
        }),
      ];
    case "withdraw":
      if (!state.open) return reject("the account is not open", "not-open");
      if (c.value.amountCents <= 0n)
        return reject("a withdrawal must be positive", "invalid-command");
      if (state.balanceCents < c.value.amountCents) {
        return reject(
          `insufficient funds: the balance is ${state.balanceCents} cents, the withdrawal ${c.value.amountCents}`,
          "insufficient-funds",
        );
      }
      return [
        event({
          case: "withdrawn",
          value: create(MoneyWithdrawnSchema, { amountCents: c.value.amountCents }),
        }),
      ];
    default:
      return reject("the command is empty", "invalid-command");
  }
}

/**
 * The account aggregate, named `name` (topics `<name>-commands`, `<name>-events`,
 * `<name>-rejections`, table `<name>-table`): protobuf commands, events and state.
 */
export function accountAggregate(name = "account") {
  return defineAggregate({
    name,
    commands: accountCommandCodec,
    events: protobufCodec(AccountEventSchema),
    state: protobufCodec(AccountStateSchema),
    initialState: () => create(AccountStateSchema),
    decide,
    evolve,
  });
}

/** The account aggregate's type. */
export type AccountAggregate = ReturnType<typeof accountAggregate>;
