// CommonJS users: require() of the ESM-only @toka/* packages (Node's require(esm),
// unflagged since Node 20.19 and 22.12). Prints one JSON line; exits 1 on a miss.
const assert = require("node:assert/strict");

const expected = {
  "@toka/codec": ["stringCodec", "jsonCodec", "protobufCodec"],
  "@toka/state-store": ["levelStorage", "memoryStorage"],
  "@toka/processor": ["defineGroup", "Processor", "Emitter", "View"],
  "@toka/processor/kafka": ["kafkajsClient", "waitForTopicLeaders"],
  "@toka/event-sourcing": ["defineAggregate", "defineProjection", "Replay"],
  "@toka/testing": ["Tester", "kafkaForTests"],
  "@toka/cli": ["createProgram", "main"],
};
const found = {};
for (const [name, exports] of Object.entries(expected)) {
  const m = require(name);
  for (const e of exports) assert.ok(m[e] !== undefined, `${name} exports ${e}`);
  found[name] = Object.keys(m).length;
}
const { stringCodec } = require("@toka/codec");
assert.equal(stringCodec.decode(stringCodec.encode("héllo")), "héllo");
console.log(JSON.stringify({ node: process.version, required: found }));
