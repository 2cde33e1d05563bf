/**
 * PLAIN's only message (RFC 4616): an empty authorization identity, the username and the
 * password, separated by NUL bytes.
 */
export function plainMessage(username: string, password: string): Buffer {
  return Buffer.from(`\u0000${username}\u0000${password}`);
}

/**
 * OAUTHBEARER's client initial response (RFC 7628, section 3.1): the GS2 header `n,,`,
 * then key-value pairs each ended by \x01 (here only `auth=Bearer <token>`), and a final
 * \x01.
 */
export function oauthBearerMessage(token: string): Buffer {
  return Buffer.from(`n,,\u0001auth=Bearer ${token}\u0001\u0001`);
}
