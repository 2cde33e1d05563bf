import { connect } from "node:net";
import { describeKafkaError } from "@toka/processor/kafka";

/**
 * Resolves when a Kafka broker answers an ApiVersions request at `host:port`; rejects with
 * why not within `timeoutMs`. A TCP connect alone proves nothing through docker-proxy,
 * which accepts on the host even when it cannot reach the container: only a Kafka
 * response shows that the published port leads to the broker.
 */
export function probeKafka(host: string, port: number, timeoutMs: number): Promise<void> {
  // ApiVersions v0 (Kafka protocol, api key 18): every broker version answers it, since
  // clients send it before they know which versions the broker supports.
  //   Request  => Size:int32 ApiKey:int16 ApiVersion:int16 CorrelationId:int32 ClientId:string
  //   Response => Size:int32 CorrelationId:int32 ErrorCode:int16 ...
  const correlationId = 0x746f6b61;
  const clientId = Buffer.from("toka-probe");
  const request = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
  request.writeInt32BE(request.length - 4, 0);
  request.writeInt16BE(18, 4);
  request.writeInt16BE(0, 6);
  request.writeInt32BE(correlationId, 8);
  request.writeInt16BE(clientId.length, 12);
  clientId.copy(request, 14);

  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new Error(`no Kafka response from ${host}:${port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 10) return;
      if (received.readInt32BE(4) !== correlationId) {
        finish(new Error(`${host}:${port} answered something that is not a Kafka response`));
        return;
      }
      const errorCode = received.readInt16BE(8);
      if (errorCode === 0) finish();
      else
        finish(
          new Error(`${host}:${port} answered ApiVersions with ${describeKafkaError(errorCode)}`),
        );
    });
    socket.on("error", (error) =>
      finish(new Error(`cannot reach ${host}:${port}: ${error.message}`, { cause: error })),
    );
    socket.on("close", () =>
      finish(new Error(`${host}:${port} closed the connection without a Kafka response`)),
    );
  });
}
