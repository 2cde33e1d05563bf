import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { securityFromFlags } from "@toka/cli";
import { expect, test } from "vitest";

test("--ssl-ca reads the CA and implies TLS; the password may come from TOKA_SASL_PASSWORD", () => {
  const dir = mkdtempSync(join(tmpdir(), "toka-cli-security-"));
  const ca = join(dir, "ca.pem");
  writeFileSync(ca, "-----BEGIN CERTIFICATE-----\n");
  const security = securityFromFlags(
    { sslCa: ca, saslMechanism: "scram-sha-512", saslUsername: "alice" },
    { TOKA_SASL_PASSWORD: "from-env" },
  );
  expect(security).toEqual({
    ssl: { ca: [Buffer.from("-----BEGIN CERTIFICATE-----\n")] },
    sasl: { mechanism: "scram-sha-512", username: "alice", password: "from-env" },
  });
  expect(securityFromFlags({ ssl: true }, {})).toEqual({ ssl: true });
  expect(securityFromFlags({}, {})).toEqual({});
});

test("missing or invalid security flags are usage errors naming the flag", () => {
  const fails = (flags: Parameters<typeof securityFromFlags>[0], message: string) =>
    expect(() => securityFromFlags(flags, {})).toThrow(
      expect.objectContaining({ exitCode: 2, message }),
    );
  fails(
    { saslMechanism: "scram-sha-256", saslUsername: "alice" },
    "error: --sasl-mechanism scram-sha-256 needs --sasl-username and --sasl-password (or TOKA_SASL_PASSWORD)",
  );
  fails(
    { saslMechanism: "kerberos" },
    "error: --sasl-mechanism: use one of plain, scram-sha-256, scram-sha-512, oauthbearer",
  );
  fails(
    { saslUsername: "alice" },
    "error: --sasl-username needs --sasl-mechanism (plain, scram-sha-256 or scram-sha-512)",
  );
  fails(
    { saslMechanism: "oauthbearer" },
    "error: --sasl-mechanism oauthbearer needs the token in TOKA_SASL_TOKEN",
  );
  expect(() => securityFromFlags({ sslCa: "/nonexistent/ca.pem" }, {})).toThrow(
    /--ssl-ca: cannot read "\/nonexistent\/ca.pem"/,
  );
});
