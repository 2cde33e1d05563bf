import { describe, expect, test } from "vitest";
import { ScramClient } from "../src/client/sasl-scram.js";

// RFC 7677, section 3: the SCRAM-SHA-256 exchange of user "user" with password "pencil".
const CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST =
  "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL =
  "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

describe("ScramClient", () => {
  test("computes RFC 7677's SCRAM-SHA-256 test vector", async () => {
    const scram = new ScramClient("sha256", "user", "pencil", CLIENT_NONCE);
    expect(scram.firstMessage().toString()).toBe(`n,,n=user,r=${CLIENT_NONCE}`);
    expect((await scram.finalMessage(Buffer.from(SERVER_FIRST))).toString()).toBe(CLIENT_FINAL);
    expect(() => scram.verifyServerFinal(Buffer.from(SERVER_FINAL))).not.toThrow();
  });

  test("rejects a server signature made without the password", async () => {
    const scram = new ScramClient("sha256", "user", "not-pencil", CLIENT_NONCE);
    await scram.finalMessage(Buffer.from(SERVER_FIRST));
    expect(() => scram.verifyServerFinal(Buffer.from(SERVER_FINAL))).toThrow(
      "the broker's SCRAM signature does not match: it does not know the password",
    );
  });

  test("rejects a server nonce that does not extend the client's", async () => {
    const scram = new ScramClient("sha256", "user", "pencil", CLIENT_NONCE);
    await expect(
      scram.finalMessage(Buffer.from("r=someone-else,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")),
    ).rejects.toThrow("the broker's SCRAM nonce does not extend the client's");
  });

  test("reports the server's e= error", async () => {
    const scram = new ScramClient("sha512", "user", "pencil", CLIENT_NONCE);
    await scram.finalMessage(Buffer.from(SERVER_FIRST));
    expect(() => scram.verifyServerFinal(Buffer.from("e=invalid-proof"))).toThrow(
      'the broker ended SCRAM with "invalid-proof"',
    );
  });

  test("escapes = and , in the username (RFC 5802 5.1)", () => {
    const scram = new ScramClient("sha512", "a=b,c", "pw", "nonce");
    expect(scram.firstMessage().toString()).toBe("n,,n=a=3Db=2Cc,r=nonce");
  });

  test("a SHA-512 proof is 64 bytes", async () => {
    const scram = new ScramClient("sha512", "user", "pencil", CLIENT_NONCE);
    const final = (await scram.finalMessage(Buffer.from(SERVER_FIRST))).toString();
    expect(Buffer.from(final.split(",p=")[1]!, "base64").byteLength).toBe(64);
  });
});
