import { describe, expect, test } from "vitest";
import { kafkajsAuthorizationError } from "../src/client/kafkajs-security.js";
import { authorizationError, tlsError } from "../src/client/security-errors.js";
import { Processor } from "../src/index.js";

describe("security errors", () => {
  test("TOPIC_AUTHORIZATION_FAILED names the operation and the topic", () => {
    expect(authorizationError(29, { operation: "Write", topic: "orders" })).toMatchObject({
      code: "TOKA_AUTHORIZATION_FAILED",
      topic: "orders",
      message:
        "the broker denied Write on topic orders: TOPIC_AUTHORIZATION_FAILED (29); grant the client's principal an ACL for Write on topic orders [topic=orders]",
    });
    expect(authorizationError(3, { operation: "Write", topic: "orders" })).toBeUndefined();
  });

  test("GROUP_AUTHORIZATION_FAILED names the group; kafkajs's nested types are found", () => {
    const kafkajsError = {
      name: "KafkaJSAggregateError",
      errors: [{ type: "GROUP_AUTHORIZATION_FAILED" }],
    };
    const error = kafkajsAuthorizationError(kafkajsError, { operation: "Read", group: "bank" });
    expect(error?.message).toContain("the broker denied Read on group bank");
    expect(error?.cause).toBe(kafkajsError);
  });

  test("certificate failures point to ssl.ca, name mismatches to ssl.servername", () => {
    const untrusted = Object.assign(new Error("self-signed certificate in certificate chain"), {
      code: "SELF_SIGNED_CERT_IN_CHAIN",
    });
    expect(tlsError("b:9093", untrusted)?.message).toBe(
      `the TLS handshake with broker b:9093 failed: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN); toka does not trust the broker's certificate; give the CA that signed it as "ssl.ca" (PEM)`,
    );
    const mismatch = Object.assign(new Error("Hostname/IP does not match"), {
      code: "ERR_TLS_CERT_ALTNAME_INVALID",
    });
    expect(tlsError("b:9093", mismatch)?.message).toContain('"ssl.servername"');
    const refused = Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
    expect(tlsError("b:9093", refused)).toBeUndefined();
  });

  test("invalid sasl options name the option", () => {
    const graph = { name: "g" } as never;
    expect(
      () =>
        new Processor(graph, {
          brokers: ["127.0.0.1:9092"],
          sasl: { mechanism: "scram-sha-512", username: "", password: "x" },
        }),
    ).toThrow(/invalid processor option "sasl.username": give the SASL username/);
    expect(
      () =>
        new Processor(graph, {
          brokers: ["127.0.0.1:9092"],
          sasl: { mechanism: "gssapi" } as never,
        }),
    ).toThrow(/invalid processor option "sasl.mechanism"/);
  });
});
