import { stringCodec } from "@toka/codec";
import { describe, expect, test } from "vitest";
import type { ClientProducer, KafkaClient, OutgoingRecord } from "../src/client/kafka-client.js";
import { Emitter, EmitterStatus } from "../src/emitter.js";
import { TokaErrorCode } from "../src/errors.js";
import { rejection } from "./rejection.js";

/** A client whose producer's connect fails while `down`, and records what it sends. */
function fakeClient() {
  const state = {
    down: false,
    connects: 0,
    disconnects: 0,
    sent: [] as OutgoingRecord[],
    releaseSend: undefined as (() => void) | undefined,
    holdSends: false,
  };
  const producer: ClientProducer = {
    connect: async () => {
      state.connects++;
      if (state.down) throw new Error("connection refused");
    },
    disconnect: async () => {
      state.disconnects++;
    },
    send: async (records) => {
      if (state.holdSends) await new Promise<void>((r) => (state.releaseSend = r));
      state.sent.push(...records);
      return [];
    },
    sendInTransaction: async () => [],
  };
  const client = { producer: () => producer } as unknown as KafkaClient;
  return { client, state };
}

describe("Emitter lifecycle", () => {
  test("idle until the first emit connects it; running once connected", async () => {
    const { client, state } = fakeClient();
    const emitter = new Emitter({ client, topic: "clicks", codec: stringCodec });
    expect(emitter.status).toBe(EmitterStatus.Idle);
    const sent = emitter.emit("a", "1");
    expect(emitter.status).toBe(EmitterStatus.Starting);
    await sent;
    expect(emitter.status).toBe(EmitterStatus.Running);
    expect(state.sent.map((r) => r.key)).toEqual(["a"]);
    await emitter.close();
    expect(emitter.status).toBe(EmitterStatus.Closed);
    expect(state.disconnects).toBe(1);
  });

  test("a failed connection goes back to idle; the next emit connects again", async () => {
    const { client, state } = fakeClient();
    const emitter = new Emitter({ client, topic: "clicks", codec: stringCodec });
    state.down = true;
    const error = await rejection(emitter.emit("a", "1"));
    expect(error.code).toBe(TokaErrorCode.ProduceFailed);
    expect(emitter.status).toBe(EmitterStatus.Idle);
    state.down = false;
    await emitter.emit("b", "2");
    expect(emitter.status).toBe(EmitterStatus.Running);
    expect(state.connects).toBe(2);
    await emitter.close();
  });

  test("close sends what was emitted before it, refuses emits after it, and runs once", async () => {
    const { client, state } = fakeClient();
    const emitter = new Emitter({ client, topic: "clicks", codec: stringCodec });
    await emitter.emit("a", "1");
    state.holdSends = true;
    const before = emitter.emit("b", "2");
    const closes = [emitter.close(), emitter.close()];
    expect(emitter.status).toBe(EmitterStatus.Closing);
    const late = await rejection(emitter.emit("c", "3"));
    expect(late).toMatchObject({ code: TokaErrorCode.InvalidState, topic: "clicks", key: "c" });
    state.releaseSend?.();
    await Promise.all([...closes, before]);
    expect(emitter.status).toBe(EmitterStatus.Closed);
    expect(state.sent.map((r) => r.key)).toEqual(["a", "b"]);
    expect(state.disconnects).toBe(1);
    expect((await rejection(emitter.emit("d", "4"))).code).toBe(TokaErrorCode.InvalidState);
  });

  test("closing an emitter that never connected does not connect", async () => {
    const { client, state } = fakeClient();
    const emitter = new Emitter({ client, topic: "clicks", codec: stringCodec });
    await emitter.close();
    expect(emitter.status).toBe(EmitterStatus.Closed);
    expect(state.connects).toBe(0);
  });
});
