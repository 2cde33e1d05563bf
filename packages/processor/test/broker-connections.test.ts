import { expect, test, vi } from "vitest";
import { BrokerConnections } from "../src/client/broker-connections.js";
import { encodeMetadataRequest } from "../src/client/metadata-request.js";
import { encodeMetadataResponse, fakeBroker } from "./fake-broker.js";

const metadataBroker = () => fakeBroker(() => encodeMetadataResponse({ brokers: [], topics: [] }));

test("small requests to one broker share one connection, also when sent at once", async () => {
  const broker = await metadataBroker();
  const connections = new BrokerConnections();
  const address = { host: broker.host, port: broker.port, clientId: "t", connectTimeoutMs: 2_000 };
  const ask = () => connections.request(address, 3, 4, encodeMetadataRequest([]), 2_000);
  await Promise.all([ask(), ask(), ask()]);
  await ask();
  expect(broker.connections()).toBe(1);
  expect(broker.requests).toHaveLength(4);
  connections.close();
});

test("a connection the broker closed is replaced on the next request", async () => {
  const broker = await metadataBroker();
  const connections = new BrokerConnections();
  const address = { host: broker.host, port: broker.port, clientId: "t", connectTimeoutMs: 2_000 };
  const ask = () => connections.request(address, 3, 4, encodeMetadataRequest([]), 2_000);
  await ask();
  broker.dropConnections();
  // A request sent before the close reached the client fails (a retriable connection
  // error its callers retry); the next one goes on a new connection.
  await vi.waitUntil(() =>
    ask().then(
      () => true,
      () => false,
    ),
  );
  expect(broker.connections()).toBe(2);
  connections.close();
});
