import { once } from "node:events";
import net from "node:net";
import type { ISocketFactoryArgs } from "kafkajs";
import { expect, test } from "vitest";
import { joinGatedSockets } from "../src/client/join-gate.js";

test("closeAll ends the connections the factory made and every one it makes afterwards", async () => {
  const server = net.createServer((socket) => socket.on("error", () => {}));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  const sockets = joinGatedSockets(async () => {});
  // kafkajs passes no TLS options for a plain connection, whatever its type says.
  const plain = (onConnect: () => void) =>
    ({ host: "127.0.0.1", port, onConnect }) as unknown as ISocketFactoryArgs;
  const connect = () =>
    new Promise<net.Socket>((resolve) => {
      const socket = sockets.factory(plain(() => resolve(socket)));
    });

  const before = await connect();
  sockets.closeAll();
  expect(before.destroyed).toBe(true);
  const after = sockets.factory(plain(() => {}));
  const [error] = await once(after, "error");
  expect((error as Error).message).toMatch(/disconnected/);
  expect(after.destroyed).toBe(true);
  server.close();
});
