import { describe, expect, test } from "vitest";
import { BrokerConnection } from "../src/client/broker-connection.js";
import { encodeMetadataRequest, METADATA_API_KEY } from "../src/client/metadata-request.js";
import {
  decodeSaslAuthenticateResponse,
  encodeSaslAuthenticateRequest,
  SASL_AUTHENTICATE_API_KEY,
} from "../src/client/sasl-authenticate-request.js";
import {
  decodeSaslHandshakeResponse,
  encodeSaslHandshakeRequest,
  SASL_HANDSHAKE_API_KEY,
} from "../src/client/sasl-handshake-request.js";
import { oauthBearerMessage, plainMessage } from "../src/client/sasl-messages.js";
import type { SaslOptions } from "../src/index.js";
import { encodeMetadataResponse, fakeBroker } from "./fake-broker.js";

/** SaslHandshake v1 response: error code and the enabled mechanisms. */
function handshakeResponse(errorCode: number, mechanisms: string[]): Buffer {
  const names = mechanisms.map((m) => Buffer.from(m));
  const out = Buffer.alloc(6 + names.reduce((sum, n) => sum + 2 + n.byteLength, 0));
  let at = out.writeInt16BE(errorCode, 0);
  at = out.writeInt32BE(names.length, at);
  for (const name of names) {
    at = out.writeInt16BE(name.byteLength, at);
    at += name.copy(out, at);
  }
  return out;
}

/** SaslAuthenticate v1 response. */
function authenticateResponse(errorCode: number, message: string | null, bytes = Buffer.alloc(0)) {
  const text = message === null ? undefined : Buffer.from(message);
  const out = Buffer.alloc(2 + 2 + (text?.byteLength ?? 0) + 4 + bytes.byteLength + 8);
  let at = out.writeInt16BE(errorCode, 0);
  at = out.writeInt16BE(text ? text.byteLength : -1, at);
  if (text) at += text.copy(out, at);
  at = out.writeInt32BE(bytes.byteLength, at);
  at += bytes.copy(out, at);
  out.writeBigInt64BE(0n, at);
  return out;
}

/** A broker with PLAIN (user "alice", password "secret") and OAUTHBEARER enabled. */
function plainBroker() {
  return fakeBroker((apiKey, body) => {
    if (apiKey === SASL_HANDSHAKE_API_KEY) {
      const mechanism = body.toString("utf8", 2, 2 + body.readInt16BE(0));
      const enabled = ["PLAIN", "OAUTHBEARER"];
      return handshakeResponse(enabled.includes(mechanism) ? 0 : 33, enabled);
    }
    if (apiKey === SASL_AUTHENTICATE_API_KEY) {
      const bytes = body.subarray(4, 4 + body.readInt32BE(0));
      return bytes.equals(plainMessage("alice", "secret"))
        ? authenticateResponse(0, null)
        : authenticateResponse(58, "Authentication failed: Invalid username or password");
    }
    return encodeMetadataResponse({ brokers: [], topics: [] });
  });
}

const open = (port: number, sasl: SaslOptions) =>
  BrokerConnection.open({
    host: "127.0.0.1",
    port,
    clientId: "sasl-test",
    connectTimeoutMs: 2_000,
    sasl,
  });

describe("SASL request encoders", () => {
  test("SaslHandshake v1 carries the mechanism as a STRING", () => {
    expect(encodeSaslHandshakeRequest("SCRAM-SHA-512")).toEqual(
      Buffer.concat([Buffer.from([0, 13]), Buffer.from("SCRAM-SHA-512")]),
    );
    expect(decodeSaslHandshakeResponse(handshakeResponse(33, ["PLAIN", "OAUTHBEARER"]))).toEqual({
      errorCode: 33,
      mechanisms: ["PLAIN", "OAUTHBEARER"],
    });
  });

  test("SaslAuthenticate v1 carries the bytes as BYTES and answers with a session lifetime", () => {
    expect(encodeSaslAuthenticateRequest(Buffer.from("abc"))).toEqual(
      Buffer.from([0, 0, 0, 3, 0x61, 0x62, 0x63]),
    );
    const answer = decodeSaslAuthenticateResponse(
      authenticateResponse(58, "bad password", Buffer.from("xy")),
    );
    expect(answer).toEqual({
      errorCode: 58,
      errorMessage: "bad password",
      authBytes: Buffer.from("xy"),
      sessionLifetimeMs: 0,
    });
    expect(decodeSaslAuthenticateResponse(authenticateResponse(0, null)).errorMessage).toBe(
      undefined,
    );
  });

  test("PLAIN and OAUTHBEARER messages (RFC 4616, RFC 7628)", () => {
    expect(plainMessage("alice", "secret").toString()).toBe("\u0000alice\u0000secret");
    expect(oauthBearerMessage("t.o.k").toString()).toBe("n,,\u0001auth=Bearer t.o.k\u0001\u0001");
  });
});

describe("BrokerConnection with SASL", () => {
  test("authenticates before the first request", async () => {
    const broker = await plainBroker();
    const connection = await open(broker.port, {
      mechanism: "plain",
      username: "alice",
      password: "secret",
    });
    await connection.request(METADATA_API_KEY, 4, encodeMetadataRequest([]));
    connection.close();
    expect(broker.requests).toEqual([SASL_HANDSHAKE_API_KEY, SASL_AUTHENTICATE_API_KEY, 3]);
  });

  test("regression: a wrong password is TOKA_AUTHENTICATION_FAILED naming the broker and mechanism", async () => {
    const broker = await plainBroker();
    const error = await open(broker.port, {
      mechanism: "plain",
      username: "alice",
      password: "wrong",
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "TOKA_AUTHENTICATION_FAILED",
      retriable: false,
      message: `SASL PLAIN authentication to broker 127.0.0.1:${broker.port} failed: Authentication failed: Invalid username or password; check the SASL username and password, or the mechanism (option "sasl")`,
    });
  });

  test("a mechanism the broker does not enable names the ones it does", async () => {
    const broker = await plainBroker();
    const error = await open(broker.port, {
      mechanism: "scram-sha-512",
      username: "alice",
      password: "secret",
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TOKA_AUTHENTICATION_FAILED" });
    expect((error as Error).message).toContain(
      "the broker does not enable SCRAM-SHA-512 (it enables PLAIN, OAUTHBEARER)",
    );
  });

  test("a listener without SASL is named as such", async () => {
    const plaintext = await fakeBroker(() => handshakeResponse(34, []));
    const error = await open(plaintext.port, {
      mechanism: "plain",
      username: "alice",
      password: "secret",
    }).catch((e: unknown) => e);
    expect((error as Error).message).toContain(
      "the listener on this port does not take SASL: it answered ILLEGAL_SASL_STATE (34)",
    );
  });

  test("a failing token provider is an authentication error with its cause", async () => {
    const broker = await plainBroker();
    const cause = new Error("no token today");
    const error = await open(broker.port, {
      mechanism: "oauthbearer",
      token: () => Promise.reject(cause),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TOKA_AUTHENTICATION_FAILED", cause });
  });
});
