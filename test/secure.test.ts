import { jsonCodec, stringCodec } from "@toka/codec";
import {
  defineGroup,
  Emitter,
  Processor,
  persist,
  type SaslOptions,
  type SecurityOptions,
  silentLogger,
  View,
} from "@toka/processor";
import { kafkajsClient, kafkajsSecurity } from "@toka/processor/kafka";
import kafkajs, { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from "vitest";
import { z } from "zod";
import { toka } from "./cli-runner.js";
import { uniqueName, waitUntil } from "./helpers.js";
import { type SecureBroker, secureBrokerMissing, startSecureBroker } from "./secure-broker.js";

const missing = secureBrokerMissing();
if (missing) console.log(`secure.test.ts skipped: ${missing}`);

// The users scripts/kafka.sh's secure mode creates.
const admin = (mechanism: "plain" | "scram-sha-256" | "scram-sha-512"): SaslOptions => ({
  mechanism,
  username: "admin",
  password: "admin-secret",
});
const denied: SaslOptions = {
  mechanism: "scram-sha-256",
  username: "denied",
  password: "denied-secret",
};

/** An unsigned JWT (alg "none") for user `sub`, as Kafka's unsecured OAUTHBEARER validator takes. */
function unsecuredToken(sub: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: "none" })}.${part({ sub, iat: now, exp: now + 3600 })}.`;
}

const Balance = z.object({ total: z.number() });

describe.skipIf(missing !== undefined)("TLS and SASL against a SASL_SSL broker", () => {
  let broker: SecureBroker;
  beforeAll(async () => {
    broker = await startSecureBroker();
  }, 600_000);
  afterAll(() => broker?.stop(), 120_000);

  const secured = (sasl: SaslOptions): SecurityOptions => ({ ssl: { ca: [broker.ca] }, sasl });

  /** toka's client with `sasl`, disconnected when the test finishes. */
  const client = (sasl: SaslOptions) =>
    kafkajsClient({
      brokers: broker.brokers,
      clientId: uniqueName("secure"),
      logger: silentLogger,
      ...secured(sasl),
    });

  async function createTopics(topics: string[], partitions: number) {
    const topicAdmin = client(admin("scram-sha-512")).admin();
    await topicAdmin.connect();
    try {
      await topicAdmin.createTopics(
        topics.map((topic) => ({ topic, partitions, compacted: false })),
      );
    } finally {
      await topicAdmin.disconnect();
    }
  }

  test("a processor, a view and an emitter round-trip over SCRAM-SHA-512 on toka's own wire path", async () => {
    const deposits = uniqueName("secure-deposits");
    await createTopics([deposits], 4);
    const group = uniqueName("secure-bank");
    const graph = defineGroup(group, {
      persist: persist(jsonCodec(Balance)),
      inputs: ({ input }) => [
        input(deposits, stringCodec, (ctx, amount) => {
          ctx.setValue({ total: (ctx.value()?.total ?? 0) + Number(amount) });
        }),
      ],
    });
    const sasl = admin("scram-sha-512");
    // The processor and the emitter take the options; the view gets the client they
    // would make, to show its reads, writes and commits go over toka's connections.
    const viewClient = client(sasl);
    expect(viewClient.wirePath).toBe("toka");
    const processor = new Processor(graph, {
      brokers: broker.brokers,
      logger: silentLogger,
      guarantee: "exactly-once",
      ...secured(sasl),
    });
    onTestFinished(() => processor.close());
    await processor.start();
    const emitter = new Emitter({
      brokers: broker.brokers,
      topic: deposits,
      codec: stringCodec,
      logger: silentLogger,
      ...secured(sasl),
    });
    onTestFinished(() => emitter.close());
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => emitter.emit(`account-${i % 8}`, String(i))),
    );
    const view = new View({
      client: viewClient,
      table: `${group}-table`,
      codec: jsonCodec(Balance),
      logger: silentLogger,
    });
    onTestFinished(() => view.close());
    await view.start();
    // account-k receives k, k+8, ..., k+32: 5k + 80.
    for (let k = 0; k < 8; k++) {
      expect(
        await view.waitForKey(`account-${k}`, (b) => b?.total === 5 * k + 80, {
          timeoutMs: 60_000,
        }),
      ).toEqual({ total: 5 * k + 80 });
    }
  });

  test.each([
    ["PLAIN", admin("plain")],
    ["SCRAM-SHA-256", admin("scram-sha-256")],
    [
      "OAUTHBEARER (Kafka's unsecured tokens)",
      { mechanism: "oauthbearer", token: () => unsecuredToken("admin") } as const,
    ],
  ])("%s connects and reads on toka's own connections", async (_name, sasl) => {
    const topic = uniqueName("secure-mechanism");
    await createTopics([topic], 1);
    const emitter = new Emitter({
      brokers: broker.brokers,
      topic,
      codec: stringCodec,
      logger: silentLogger,
      ...secured(sasl),
    });
    onTestFinished(() => emitter.close());
    await emitter.emit("k", "v");
    const batches: number[] = [];
    await client(sasl).readLog(
      {
        topic,
        ranges: [{ partition: 0, start: "0", end: "1" }],
        readCommitted: false,
        maxBytesPerPartition: 1024 * 1024,
      },
      async (batch) => void batches.push(batch.records.length),
    );
    expect(batches.reduce((a, b) => a + b, 0)).toBe(1);
  });

  test("regression: a wrong password is TOKA_AUTHENTICATION_FAILED naming the broker and the mechanism", async () => {
    const view = new View({
      brokers: broker.brokers,
      table: "any-table",
      codec: stringCodec,
      logger: silentLogger,
      ...secured({ mechanism: "scram-sha-512", username: "admin", password: "wrong" }),
    });
    onTestFinished(() => view.close());
    const error = await view.start().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TOKA_AUTHENTICATION_FAILED", retriable: false });
    expect((error as Error).message).toBe(
      `SASL SCRAM-SHA-512 authentication to broker ${broker.brokers[0]} failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512; check the SASL username and password, or the mechanism (option "sasl")`,
    );
  });

  test("regression: a CA that did not sign the broker's certificate is TOKA_TLS_FAILED pointing to ssl.ca", async () => {
    const emitter = new Emitter({
      brokers: broker.brokers,
      topic: "any-topic",
      codec: stringCodec,
      logger: silentLogger,
      // Node's built-in CAs: none signed the test CA.
      ssl: true,
      sasl: admin("scram-sha-512"),
    });
    onTestFinished(() => emitter.close());
    const error = await emitter.emit("k", "v").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TOKA_TLS_FAILED", retriable: false });
    expect((error as Error).message).toBe(
      `the TLS handshake with broker ${broker.brokers[0]} failed: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN); toka does not trust the broker's certificate; give the CA that signed it as "ssl.ca" (PEM)`,
    );
  });

  test("regression: a name the certificate does not list is TOKA_TLS_FAILED pointing to ssl.servername", async () => {
    const reader = kafkajsClient({
      brokers: broker.brokers,
      clientId: uniqueName("secure"),
      logger: silentLogger,
      ssl: { ca: [broker.ca], servername: "broker.example" },
      sasl: admin("scram-sha-512"),
    });
    const error = await reader
      .readLog(
        {
          topic: "any-topic",
          ranges: [{ partition: 0, start: "0", end: "1" }],
          readCommitted: false,
          maxBytesPerPartition: 1024 * 1024,
        },
        async () => {},
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TOKA_TLS_FAILED" });
    expect((error as Error).message).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
    expect((error as Error).message).toContain('"ssl.servername"');
  });

  test("regression: a user without ACLs gets TOKA_AUTHORIZATION_FAILED naming the topic and the operation", async () => {
    const table = uniqueName("secure-acl-table");
    await createTopics([table], 1);
    const view = new View({
      brokers: broker.brokers,
      table,
      codec: stringCodec,
      logger: silentLogger,
      ...secured(denied),
    });
    onTestFinished(() => view.close());
    const error = await view.start().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TOKA_AUTHORIZATION_FAILED", topic: table });
    expect((error as Error).message).toContain(
      `the broker denied Describe on topic ${table}: TOPIC_AUTHORIZATION_FAILED (29)`,
    );
  });

  test("regression: a group the principal may not join stops the processor with TOKA_AUTHORIZATION_FAILED naming the group", async () => {
    // `denied` may do anything on topics of this prefix, nothing on groups.
    const prefix = uniqueName("secure-no-group");
    const kafka = new Kafka({
      brokers: broker.brokers,
      logLevel: logLevel.NOTHING,
      ...kafkajsSecurity(secured(admin("scram-sha-512"))),
    });
    const aclAdmin = kafka.admin();
    await aclAdmin.connect();
    onTestFinished(() => aclAdmin.disconnect());
    await aclAdmin.createAcls({
      acl: [
        {
          resourceType: kafkajs.AclResourceTypes.TOPIC,
          resourceName: prefix,
          resourcePatternType: kafkajs.ResourcePatternTypes.PREFIXED,
          principal: "User:denied",
          host: "*",
          operation: kafkajs.AclOperationTypes.ALL,
          permissionType: kafkajs.AclPermissionTypes.ALLOW,
        },
      ],
    });
    const input = `${prefix}-input`;
    await createTopics([input], 1);
    const group = `${prefix}-group`;
    const graph = defineGroup(group, {
      persist: persist(stringCodec),
      inputs: ({ input: edge }) => [edge(input, stringCodec, (ctx, v) => ctx.setValue(v))],
    });
    const processor = new Processor(graph, {
      brokers: broker.brokers,
      logger: silentLogger,
      ...secured(denied),
    });
    onTestFinished(() => processor.close());
    const error = await processor
      .start()
      .then(() => processor.waitFor("running", { timeoutMs: 60_000 }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TOKA_AUTHORIZATION_FAILED", group });
    expect((error as Error).message).toContain(
      `the broker denied Describe on group ${group}: GROUP_AUTHORIZATION_FAILED (30)`,
    );
  });

  test("toka lag and toka show take --ssl-ca and the SASL flags", async () => {
    const table = uniqueName("secure-cli-table");
    await createTopics([table], 1);
    const emitter = new Emitter({
      brokers: broker.brokers,
      topic: table,
      codec: stringCodec,
      logger: silentLogger,
      ...secured(admin("scram-sha-512")),
    });
    onTestFinished(() => emitter.close());
    await emitter.emit("alice", "42");
    const { mkdtemp, writeFile } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const caFile = `${await mkdtemp(`${tmpdir()}/toka-secure-`)}/ca.pem`;
    await writeFile(caFile, broker.ca);
    const flags = [
      "--brokers",
      broker.brokers.join(","),
      "--ssl-ca",
      caFile,
      "--sasl-mechanism",
      "scram-sha-512",
      "--sasl-username",
      "admin",
    ];
    process.env.TOKA_SASL_PASSWORD = "admin-secret";
    onTestFinished(() => {
      delete process.env.TOKA_SASL_PASSWORD;
    });
    const shown = await waitUntil("toka show finds the value", async () => {
      const result = await toka(...flags, "show", "-t", table, "-k", "alice", "-f", "text");
      return result.code === 0 ? result : undefined;
    });
    expect(shown.out).toContain("42");
    // A fresh broker answers NOT_COORDINATOR until its offsets topic is loaded.
    const lag = await waitUntil("toka lag answers", async () => {
      const result = await toka(...flags, "lag", "-g", uniqueName("no-such-group"));
      return result.code === 2 ? result : undefined;
    });
    expect(lag.err).toContain("has no committed offsets");
    process.env.TOKA_SASL_PASSWORD = "wrong";
    const refused = await toka(...flags, "lag", "-g", "any");
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("SASL SCRAM-SHA-512 authentication to broker");
  });
});
