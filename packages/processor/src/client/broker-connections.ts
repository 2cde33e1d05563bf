import { type BrokerAddress, BrokerConnection } from "./broker-connection.js";

/**
 * One open connection per broker (for metadata, coordinator look-ups, offset commits
 * and the log writer's produce requests), opened on first use and again after it
 * closed: a request fails only when its connection failed, which closes it. Opening one
 * per request cost a TCP connect; with TLS and SASL it costs a TLS handshake and the
 * SASL exchange too (SCRAM: three more round trips), tens of milliseconds per request.
 * Idle connections do not keep the process alive (their sockets are unref'd); a
 * request's own timer does, until its answer.
 */
export class BrokerConnections {
  private readonly open = new Map<string, Promise<BrokerConnection>>();

  /** Sends one request on the broker's connection; see {@link BrokerConnection.request}. */
  async request(
    address: BrokerAddress,
    apiKey: number,
    apiVersion: number,
    body: Buffer,
    timeoutMs: number,
  ): Promise<Buffer> {
    const connection = await this.connection(address);
    return connection.request(apiKey, apiVersion, body, timeoutMs);
  }

  /** Closes every connection; later requests open new ones. */
  close(): void {
    for (const connection of this.open.values()) {
      connection.then(
        (c) => c.close(),
        () => {},
      );
    }
    this.open.clear();
  }

  private connection(address: BrokerAddress): Promise<BrokerConnection> {
    const key = `${address.host}:${address.port}`;
    const known = this.open.get(key);
    if (known) {
      // A connection the broker closed (idle for connections.max.idle.ms, or a restart)
      // is replaced; one still opening is shared.
      return known.then((c) => (c.closed ? this.reopen(key, address, known) : c));
    }
    return this.reopen(key, address, undefined);
  }

  private reopen(
    key: string,
    address: BrokerAddress,
    replaced: Promise<BrokerConnection> | undefined,
  ): Promise<BrokerConnection> {
    const current = this.open.get(key);
    if (current !== replaced && current !== undefined) return current;
    const opening = BrokerConnection.open(address).then((c) => {
      c.unref();
      return c;
    });
    this.open.set(key, opening);
    opening.catch(() => {
      if (this.open.get(key) === opening) this.open.delete(key);
    });
    return opening;
  }
}
