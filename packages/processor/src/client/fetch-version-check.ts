import { TokaError, TokaErrorCode } from "../errors.js";
import type { BrokerAddress, BrokerConnection } from "./broker-connection.js";
import {
  API_VERSIONS_API_KEY,
  FETCH_API_KEY,
  FETCH_VERSION,
  supportedVersions,
} from "./fetch-request.js";

/** Fails clearly on a broker too old for toka's Fetch version; asks each broker once. */
export class FetchVersionCheck {
  private readonly checked = new Set<string>();

  async check(connection: BrokerConnection, address: BrokerAddress): Promise<void> {
    const key = `${address.host}:${address.port}`;
    if (this.checked.has(key)) return;
    const versions = supportedVersions(
      await connection.request(API_VERSIONS_API_KEY, 0, Buffer.alloc(0)),
      FETCH_API_KEY,
    );
    if (!versions || versions.min > FETCH_VERSION || versions.max < FETCH_VERSION) {
      throw new TokaError(
        TokaErrorCode.KafkaFailed,
        `broker ${key} does not answer Fetch version ${FETCH_VERSION} (it answers ${versions ? `${versions.min}-${versions.max}` : "none"}); toka's reader needs Kafka 2.3 or later`,
      );
    }
    this.checked.add(key);
  }
}
