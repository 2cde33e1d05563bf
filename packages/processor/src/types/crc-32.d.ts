// crc-32 ships types for its CRC-32 module only; its CRC-32C module has the same API.
declare module "crc-32/crc32c.js" {
  const crc32c: {
    /** The CRC-32C of the bytes, as a signed 32-bit integer. */
    buf(data: Uint8Array, seed?: number): number;
  };
  export default crc32c;
}
