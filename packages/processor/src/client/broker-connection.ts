import net from "node:net";
import tls from "node:tls";

/** Where and how to reach one broker. */
export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
  /** TLS options, `true` for the defaults; absent for plaintext. */
  readonly ssl?: tls.ConnectionOptions | boolean | undefined;
  readonly clientId: string;
  readonly connectTimeoutMs: number;
}

/** Where a topic's partitions are led, from fresh metadata. */
export interface TopicLeaders {
  readonly partitions: number;
  /** Partitions without a leader right now are absent. */
  readonly leaders: ReadonlyMap<number, BrokerAddress>;
}

/** Looks up a topic's leaders. */
export type LeaderLookup = (topic: string) => Promise<TopicLeaders>;

/** A connection failed or closed; the request may be sent again on a new connection. */
export class BrokerConnectionError extends Error {
  override readonly name = "BrokerConnectionError";
  readonly retriable = true;
}

interface Pending {
  resolve(body: Buffer): void;
  reject(error: Error): void;
}

/**
 * One TCP (or TLS) connection to a broker speaking Kafka's framing: each request is a
 * size-prefixed frame with a request header (v1), each response a size-prefixed frame
 * starting with the correlation ID. Requests may be pipelined; responses come in order.
 */
export class BrokerConnection {
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closedWith: Error | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly address: BrokerAddress,
  ) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (error) => this.fail(this.error(`failed: ${error.message}`, error)));
    socket.on("close", () => this.fail(this.error("closed by the broker")));
  }

  /** Connects; rejects with a {@link BrokerConnectionError} after `connectTimeoutMs`. */
  static open(address: BrokerAddress): Promise<BrokerConnection> {
    return new Promise((resolve, reject) => {
      const options = { host: address.host, port: address.port };
      const ready = address.ssl ? "secureConnect" : "connect";
      const socket = address.ssl
        ? tls.connect({
            ...options,
            servername: address.host,
            ...(address.ssl === true ? {} : address.ssl),
          })
        : net.connect(options);
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new BrokerConnectionError(
            `connecting to broker ${address.host}:${address.port} timed out after ${address.connectTimeoutMs} ms`,
          ),
        );
      }, address.connectTimeoutMs);
      const failed = (error: Error) => {
        clearTimeout(timer);
        reject(
          new BrokerConnectionError(
            `connecting to broker ${address.host}:${address.port} failed: ${error.message}`,
            { cause: error },
          ),
        );
      };
      socket.once("error", failed);
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.off("error", failed);
        resolve(new BrokerConnection(socket, address));
      });
    });
  }

  /** Sends a request; resolves with the response after its correlation ID. */
  request(apiKey: number, apiVersion: number, body: Buffer): Promise<Buffer> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const correlationId = this.nextCorrelationId++;
    const clientId = Buffer.from(this.address.clientId);
    const header = Buffer.alloc(14);
    header.writeInt32BE(10 + clientId.byteLength + body.byteLength, 0);
    header.writeInt16BE(apiKey, 4);
    header.writeInt16BE(apiVersion, 6);
    header.writeInt32BE(correlationId, 8);
    header.writeInt16BE(clientId.byteLength, 12);
    return new Promise((resolve, reject) => {
      this.pending.set(correlationId, { resolve, reject });
      this.socket.write(Buffer.concat([header, clientId, body]));
    });
  }

  close(): void {
    this.fail(this.error("closed"));
    this.socket.destroy();
  }

  private receive(chunk: Buffer) {
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    for (;;) {
      if (this.buffered < 4) return;
      const head = this.chunks[0]!.byteLength >= 4 ? this.chunks[0]! : this.joinChunks();
      const size = head.readInt32BE(0);
      if (this.buffered < 4 + size) return;
      const all = this.joinChunks();
      const frame = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.chunks = rest.byteLength > 0 ? [rest] : [];
      this.buffered = rest.byteLength;
      const pending = this.pending.get(frame.readInt32BE(0));
      if (!pending) {
        this.fail(this.error("answered a request it was not sent"));
        this.socket.destroy();
        return;
      }
      this.pending.delete(frame.readInt32BE(0));
      pending.resolve(frame.subarray(4));
    }
  }

  private joinChunks(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }

  private error(what: string, cause?: Error): BrokerConnectionError {
    return new BrokerConnectionError(
      `the connection to broker ${this.address.host}:${this.address.port} ${what}`,
      cause ? { cause } : undefined,
    );
  }

  private fail(error: Error) {
    this.closedWith ??= error;
    for (const pending of this.pending.values()) pending.reject(this.closedWith);
    this.pending.clear();
  }
}
