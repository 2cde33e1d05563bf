import net from "node:net";
import { onTestFinished } from "vitest";
import type { MetadataResponse } from "../src/client/metadata-request.js";

/** Answers a request body of one API key with a response body (after the correlation ID). */
export type FakeHandler = (apiKey: number, body: Buffer) => Buffer;

/**
 * A TCP server speaking Kafka's framing on 127.0.0.1, answering with `handler`: enough
 * to test toka's own connections (metadata, look-ups) without a broker. Closed when the
 * test finishes.
 */
export async function fakeBroker(handler: FakeHandler): Promise<{
  host: string;
  port: number;
  requests: number[];
  /** Connections accepted so far. */
  connections(): number;
  /** Closes the open connections, as a broker does with idle ones; the server stays up. */
  dropConnections(): void;
  close(): Promise<void>;
}> {
  const requests: number[] = [];
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.byteLength >= 4 && buffered.byteLength >= 4 + buffered.readInt32BE(0)) {
        const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(4 + frame.byteLength);
        const apiKey = frame.readInt16BE(0);
        const correlationId = frame.readInt32BE(4);
        const clientIdLength = frame.readInt16BE(8);
        requests.push(apiKey);
        const answer = handler(apiKey, frame.subarray(10 + Math.max(0, clientIdLength)));
        const head = Buffer.alloc(8);
        head.writeInt32BE(4 + answer.byteLength, 0);
        head.writeInt32BE(correlationId, 4);
        socket.write(Buffer.concat([head, answer]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  onTestFinished(() => (server.listening ? close() : undefined));
  return {
    host: "127.0.0.1",
    port,
    requests,
    connections: () => accepted,
    dropConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
    close,
  };
}

/** A port on 127.0.0.1 nothing listens on: connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Encodes a Metadata v4 response body, the broker's side of `decodeMetadataResponse`. */
export function encodeMetadataResponse(response: MetadataResponse): Buffer {
  const parts: Buffer[] = [int32(0), int32(response.brokers.length)];
  for (const b of response.brokers) {
    parts.push(int32(b.nodeId), string(b.host), int32(b.port), int16(-1));
  }
  parts.push(string("cluster"), int32(response.brokers[0]?.nodeId ?? -1));
  parts.push(int32(response.topics.length));
  for (const t of response.topics) {
    parts.push(int16(t.errorCode), string(t.topic), Buffer.from([0]), int32(t.partitions.length));
    for (const p of t.partitions) {
      const replicas = p.leader >= 0 ? [p.leader] : [];
      parts.push(int16(p.errorCode), int32(p.partition), int32(p.leader));
      parts.push(int32(replicas.length), ...replicas.map(int32));
      parts.push(int32(replicas.length), ...replicas.map(int32));
    }
  }
  return Buffer.concat(parts);
}

/** The topic names a Metadata v4 request asks for. */
export function metadataRequestTopics(body: Buffer): string[] {
  const topics: string[] = [];
  let at = 4;
  for (let i = 0; i < body.readInt32BE(0); i++) {
    const length = body.readInt16BE(at);
    topics.push(body.toString("utf8", at + 2, at + 2 + length));
    at += 2 + length;
  }
  return topics;
}

function string(value: string): Buffer {
  const bytes = Buffer.from(value);
  return Buffer.concat([int16(bytes.byteLength), bytes]);
}
function int16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeInt16BE(value);
  return out;
}
function int32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32BE(value);
  return out;
}
