import net from "node:net";
import tls from "node:tls";
import type { SaslOptions } from "../connection-security.js";
import { authenticate } from "./sasl-authentication.js";
import { tlsError } from "./security-errors.js";

/** Where and how to reach one broker. */
export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
  /** TLS options, `true` for the defaults; absent for plaintext. */
  readonly ssl?: tls.ConnectionOptions | boolean | undefined;
  /** SASL authentication right after connecting; absent for none. */
  readonly sasl?: SaslOptions | undefined;
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

/** How long a request waits for its answer unless the caller says otherwise. */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * A connection failed, timed out or closed; the request may be sent again on a new
 * connection, to the same broker or (with fresh metadata) another one.
 */
export class BrokerConnectionError extends Error {
  override readonly name = "BrokerConnectionError";
  readonly retriable = true;
  /** `host:port` of the broker. */
  readonly broker: string;
  /** The socket's error code (`ECONNREFUSED`, `ECONNRESET`), `ETIMEDOUT` for toka's own timeouts. */
  readonly code: string | undefined;

  constructor(
    message: string,
    options: { broker: string; code?: string | undefined; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.broker = options.broker;
    this.code = options.code;
  }
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
    socket.on("error", (error: NodeJS.ErrnoException) =>
      this.fail(this.error(`failed: ${error.message}`, error)),
    );
    socket.on("close", () => this.fail(this.error("closed by the broker")));
  }

  /**
   * Connects, with TLS and SASL when the address says so.
   * @throws BrokerConnectionError (retriable) when the broker cannot be reached, or after
   * `connectTimeoutMs`.
   * @throws TokaError `TOKA_TLS_FAILED` when the broker's certificate is not trusted or
   * not issued for its address; `TOKA_AUTHENTICATION_FAILED` when SASL fails (see
   * {@link authenticate}).
   */
  static async open(address: BrokerAddress): Promise<BrokerConnection> {
    const connection = await BrokerConnection.connect(address);
    if (!address.sasl) return connection;
    try {
      await authenticate(connection, `${address.host}:${address.port}`, address.sasl);
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  private static connect(address: BrokerAddress): Promise<BrokerConnection> {
    return new Promise((resolve, reject) => {
      const options = { host: address.host, port: address.port };
      const ready = address.ssl ? "secureConnect" : "connect";
      const socket = address.ssl
        ? tls.connect({
            ...options,
            // SNI takes host names only (RFC 6066, section 3); an IP address is checked
            // against the certificate's IP entries without it.
            ...(net.isIP(address.host) === 0 ? { servername: address.host } : {}),
            ...(address.ssl === true ? {} : address.ssl),
          })
        : net.connect(options);
      socket.setNoDelay(true);
      const broker = `${address.host}:${address.port}`;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new BrokerConnectionError(
            `connecting to broker ${broker} timed out after ${address.connectTimeoutMs} ms`,
            { broker, code: "ETIMEDOUT" },
          ),
        );
      }, address.connectTimeoutMs);
      const failed = (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          (address.ssl ? tlsError(broker, error) : undefined) ??
            new BrokerConnectionError(`connecting to broker ${broker} failed: ${error.message}`, {
              broker,
              code: error.code,
              cause: error,
            }),
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

  /**
   * Sends a request; resolves with the response after its correlation ID. Without an
   * answer within `timeoutMs` the connection is closed (the answers of a connection come
   * in order, so it cannot skip one) and every request on it fails.
   */
  request(
    apiKey: number,
    apiVersion: number,
    body: Buffer,
    timeoutMs = REQUEST_TIMEOUT_MS,
  ): Promise<Buffer> {
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
      const timer = setTimeout(() => {
        this.fail(this.error(`did not answer within ${timeoutMs} ms`, undefined, "ETIMEDOUT"));
        this.socket.destroy();
      }, timeoutMs);
      this.pending.set(correlationId, {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.socket.write(Buffer.concat([header, clientId, body]));
    });
  }

  close(): void {
    this.fail(this.error("closed"));
    this.socket.destroy();
  }

  /** Whether the connection failed or was closed: every request on it is rejected. */
  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Lets the process exit while this connection is idle (see `BrokerConnections`). */
  unref(): void {
    this.socket.unref();
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

  private error(what: string, cause?: NodeJS.ErrnoException, code = cause?.code) {
    const broker = `${this.address.host}:${this.address.port}`;
    return new BrokerConnectionError(`the connection to broker ${broker} ${what}`, {
      broker,
      code,
      cause,
    });
  }

  private fail(error: Error) {
    this.closedWith ??= error;
    for (const pending of this.pending.values()) pending.reject(this.closedWith);
    this.pending.clear();
  }
}
