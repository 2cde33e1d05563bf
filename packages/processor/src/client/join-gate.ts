import net from "node:net";
import tls from "node:tls";
import type { ISocketFactory } from "kafkajs";

const JOIN_GROUP_API_KEY = 11;
/** The size prefix and API key of a request frame. */
const FRAME_HEAD_BYTES = 6;
/** As kafkajs's own sockets. */
const KEEP_ALIVE_DELAY_MS = 60_000;

/**
 * kafkajs's sockets with a gate on the group join: a consumer's JoinGroup request is
 * written only once `beforeJoin` resolved. kafkajs has no revocation callback (the Java consumer's
 * `onPartitionsRevoked`) and rejoins as soon as its heartbeat hears of a rebalance;
 * when toka, not kafkajs, delivers a member's records, this is where the member
 * finishes the batches it is handling before the group may give their partitions to
 * another member, so that the old and the new owner never write a partition at once.
 */
export function joinGatedSockets(beforeJoin: () => Promise<void>): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    const socket = ssl
      ? tls.connect(
          { host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl },
          onConnect,
        )
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
    const write = socket.write.bind(socket) as (
      chunk: Uint8Array,
      encoding?: BufferEncoding,
    ) => boolean;
    socket.write = ((chunk: Uint8Array, encoding?: BufferEncoding) => {
      if (!isJoinGroup(chunk)) return write(chunk, encoding);
      // Only the join waits: an offset commit a finishing batch sends meanwhile must
      // pass it (kafkajs matches answers to requests by correlation ID, in any order).
      void beforeJoin()
        .catch(() => {})
        .then(() => {
          if (!socket.destroyed) write(chunk, encoding);
        });
      return true;
    }) as typeof socket.write;
    return socket;
  };
}

/** Whether a frame kafkajs writes is a JoinGroup request. */
function isJoinGroup(chunk: Uint8Array): boolean {
  if (!(chunk instanceof Uint8Array) || chunk.byteLength < FRAME_HEAD_BYTES) return false;
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  // A whole frame: its size prefix counts the rest (kafkajs writes one frame per call).
  return view.getInt32(0) === chunk.byteLength - 4 && view.getInt16(4) === JOIN_GROUP_API_KEY;
}
