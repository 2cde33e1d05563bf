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
export function joinGatedSockets(beforeJoin: () => Promise<void>): GatedSockets {
  const open = new Set<net.Socket>();
  let closed = false;
  const factory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
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
    if (closed) {
      // After the consumer's disconnect: kafkajs gets a connection that fails at once.
      socket.destroy(new Error("the consumer was disconnected; its connections are closed"));
      return socket;
    }
    open.add(socket);
    socket.once("close", () => open.delete(socket));
    return socket;
  };
  return {
    factory,
    closeAll() {
      closed = true;
      for (const socket of open) socket.destroy();
      open.clear();
    },
  };
}

/** A socket factory for kafkajs, and the end of every connection it made. */
export interface GatedSockets {
  readonly factory: ISocketFactory;
  /**
   * Closes the connections and refuses new ones: once the consumer disconnected, a
   * kafkajs join or request still under way (a restart after a crash that was joining)
   * fails instead of keeping the process alive.
   */
  closeAll(): void;
}

/** Whether a frame kafkajs writes is a JoinGroup request. */
function isJoinGroup(chunk: Uint8Array): boolean {
  if (!(chunk instanceof Uint8Array) || chunk.byteLength < FRAME_HEAD_BYTES) return false;
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  // A whole frame: its size prefix counts the rest (kafkajs writes one frame per call).
  return view.getInt32(0) === chunk.byteLength - 4 && view.getInt16(4) === JOIN_GROUP_API_KEY;
}
