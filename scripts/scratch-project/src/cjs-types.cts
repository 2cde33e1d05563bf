// A CommonJS TypeScript file: `import = require` of the ESM-only packages type-checks
// under module nodenext (TypeScript 5.8+ models Node's require(esm)).
import codec = require("@toka/codec");
import processor = require("@toka/processor");
import testing = require("@toka/testing");

export const text: codec.Codec<string> = codec.stringCodec;
export const group = processor.defineGroup("cjs-group", {
  persist: processor.persist(codec.stringCodec),
  inputs: ({ input }) => [input("cjs-input", codec.stringCodec, (ctx, v) => ctx.setValue(v))],
});
export const tester: testing.Tester = new testing.Tester();
