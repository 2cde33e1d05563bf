import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const derive = promisify(pbkdf2);

/** The hash of a SCRAM mechanism (RFC 7677 for SHA-256; SHA-512 as Kafka defines it). */
export type ScramHash = "sha256" | "sha512";

const KEY_LENGTH: Record<ScramHash, number> = { sha256: 32, sha512: 64 };

/**
 * The client side of a SCRAM exchange (RFC 5802, section 3): a first message with a
 * fresh nonce, the final message with the proof computed from the server's salt and
 * iteration count, and the check of the server's signature, which proves the broker
 * knows the password too. Without channel binding (`n,,`), as Kafka's SCRAM is. The
 * password is used as given: SASLprep (RFC 4013) is not applied, which matters only for
 * passwords with non-ASCII characters.
 */
export class ScramClient {
  private readonly firstBare: string;
  private serverSignature: Buffer | undefined;

  constructor(
    private readonly hash: ScramHash,
    username: string,
    private readonly password: string,
    private readonly clientNonce = randomBytes(24).toString("base64"),
  ) {
    // RFC 5802 5.1: "=" and "," in a username are sent as "=3D" and "=2C".
    const name = username.replace(/=/g, "=3D").replace(/,/g, "=2C");
    this.firstBare = `n=${name},r=${this.clientNonce}`;
  }

  /** client-first-message: the GS2 header `n,,` (no channel binding, no authzid) and the bare part. */
  firstMessage(): Buffer {
    return Buffer.from(`n,,${this.firstBare}`);
  }

  /**
   * client-final-message for the server-first-message `r=<nonce>,s=<salt>,i=<iterations>`.
   * @throws Error when the server's nonce does not extend the client's, or a field is missing.
   */
  async finalMessage(serverFirst: Buffer): Promise<Buffer> {
    const text = serverFirst.toString("utf8");
    const fields = attributes(text);
    const nonce = fields.get("r");
    const salt = fields.get("s");
    const iterations = Number(fields.get("i"));
    if (!nonce?.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      throw new Error("the broker's SCRAM nonce does not extend the client's");
    }
    if (salt === undefined || !Number.isInteger(iterations) || iterations < 1) {
      throw new Error(`the broker's SCRAM first message lacks a salt or iteration count`);
    }
    const salted = await derive(
      this.password,
      Buffer.from(salt, "base64"),
      iterations,
      KEY_LENGTH[this.hash],
      this.hash,
    );
    const clientKey = this.hmac(salted, "Client Key");
    const storedKey = createHash(this.hash).update(clientKey).digest();
    // "biws" is base64 of the GS2 header "n,,".
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.firstBare},${text},${withoutProof}`;
    const clientSignature = this.hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.byteLength);
    for (let i = 0; i < proof.byteLength; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    this.serverSignature = this.hmac(this.hmac(salted, "Server Key"), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`);
  }

  /**
   * Checks the server-final-message `v=<signature>`.
   * @throws Error when the server sent `e=<error>` or a signature that does not match.
   */
  verifyServerFinal(serverFinal: Buffer): void {
    const fields = attributes(serverFinal.toString("utf8"));
    const error = fields.get("e");
    if (error !== undefined) throw new Error(`the broker ended SCRAM with "${error}"`);
    const signature = Buffer.from(fields.get("v") ?? "", "base64");
    if (
      !this.serverSignature ||
      signature.byteLength !== this.serverSignature.byteLength ||
      !timingSafeEqual(signature, this.serverSignature)
    ) {
      throw new Error("the broker's SCRAM signature does not match: it does not know the password");
    }
  }

  private hmac(key: Buffer, text: string): Buffer {
    return createHmac(this.hash, key).update(text).digest();
  }
}

/** `a=1,b=2` into a map; values may contain "=" (base64). */
function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    if (part.length >= 2 && part[1] === "=") out.set(part[0]!, part.slice(2));
  }
  return out;
}
