import { SaslMechanism, type SaslOptions } from "../connection-security.js";
import { TokaError, TokaErrorCode } from "../errors.js";
import type { BrokerConnection } from "./broker-connection.js";
import { describeKafkaError, kafkaErrorCode } from "./kafka-error-codes.js";
import {
  decodeSaslAuthenticateResponse,
  encodeSaslAuthenticateRequest,
  SASL_AUTHENTICATE_API_KEY,
  SASL_AUTHENTICATE_VERSION,
} from "./sasl-authenticate-request.js";
import {
  decodeSaslHandshakeResponse,
  encodeSaslHandshakeRequest,
  SASL_HANDSHAKE_API_KEY,
  SASL_HANDSHAKE_VERSION,
} from "./sasl-handshake-request.js";
import { oauthBearerMessage, plainMessage } from "./sasl-messages.js";
import { ScramClient } from "./sasl-scram.js";

/** Kafka's names of the mechanisms. */
const KAFKA_MECHANISM: Record<SaslMechanism, string> = {
  plain: "PLAIN",
  "scram-sha-256": "SCRAM-SHA-256",
  "scram-sha-512": "SCRAM-SHA-512",
  oauthbearer: "OAUTHBEARER",
};

/**
 * Authenticates a fresh connection (Kafka's SASL flow since KIP-152): a SaslHandshake
 * naming the mechanism, then the mechanism's messages, each in a SaslAuthenticate
 * request. Runs before any other request on the connection: a broker's SASL listener
 * answers nothing else until then.
 *
 * @throws TokaError `TOKA_AUTHENTICATION_FAILED` (not retriable) naming the broker and the
 * mechanism when the broker does not enable the mechanism, rejects the credentials, or
 * (SCRAM) cannot prove it knows the password; a lost connection rejects as it would for
 * any request.
 */
export async function authenticate(
  connection: BrokerConnection,
  broker: string,
  sasl: SaslOptions,
): Promise<void> {
  const mechanism = KAFKA_MECHANISM[sasl.mechanism];
  const failed = (why: string, cause?: unknown) =>
    new TokaError(
      TokaErrorCode.AuthenticationFailed,
      `SASL ${mechanism} authentication to broker ${broker} failed: ${why}; check the SASL username and password, or the mechanism (option "sasl")`,
      { cause },
    );
  const handshake = decodeSaslHandshakeResponse(
    await connection.request(
      SASL_HANDSHAKE_API_KEY,
      SASL_HANDSHAKE_VERSION,
      encodeSaslHandshakeRequest(mechanism),
    ),
  );
  if (handshake.errorCode !== 0) {
    throw failed(
      handshake.errorCode === kafkaErrorCode("UNSUPPORTED_SASL_MECHANISM")
        ? `the broker does not enable ${mechanism} (it enables ${handshake.mechanisms.join(", ") || "none"})`
        : handshake.errorCode === kafkaErrorCode("ILLEGAL_SASL_STATE")
          ? `the listener on this port does not take SASL: it answered ${describeKafkaError(handshake.errorCode)}; check the port and its security protocol`
          : `the handshake answered ${describeKafkaError(handshake.errorCode)}`,
    );
  }
  const step = async (message: Buffer): Promise<Buffer> => {
    const answer = decodeSaslAuthenticateResponse(
      await connection.request(
        SASL_AUTHENTICATE_API_KEY,
        SASL_AUTHENTICATE_VERSION,
        encodeSaslAuthenticateRequest(message),
      ),
    );
    if (answer.errorCode !== 0) {
      throw failed(answer.errorMessage ?? describeKafkaError(answer.errorCode));
    }
    return answer.authBytes;
  };
  switch (sasl.mechanism) {
    case SaslMechanism.Plain:
      await step(plainMessage(sasl.username, sasl.password));
      return;
    case SaslMechanism.OauthBearer: {
      let token: string;
      try {
        token = await sasl.token();
      } catch (error) {
        throw failed("the token provider failed", error);
      }
      await step(oauthBearerMessage(token));
      return;
    }
    case SaslMechanism.ScramSha256:
    case SaslMechanism.ScramSha512: {
      const scram = new ScramClient(
        sasl.mechanism === SaslMechanism.ScramSha256 ? "sha256" : "sha512",
        sasl.username,
        sasl.password,
      );
      const serverFirst = await step(scram.firstMessage());
      let final: Buffer;
      try {
        final = await scram.finalMessage(serverFirst);
      } catch (error) {
        throw failed((error as Error).message, error);
      }
      const serverFinal = await step(final);
      try {
        scram.verifyServerFinal(serverFinal);
      } catch (error) {
        throw failed((error as Error).message, error);
      }
      return;
    }
  }
}
