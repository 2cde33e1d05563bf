// The replay demonstration, against a running bank (`npm run example 4-bank` in another
// terminal): opens a few accounts and moves money over HTTP, reads the balances, then
// rebuilds the balance projection from the event log into a new table while the old one
// keeps serving, follows the rebuild's progress, and reads the balances again from the
// switched table: the same values.
const commands = process.env.BANK_URL ?? "http://127.0.0.1:8080";
const query = process.env.QUERY_URL ?? "http://127.0.0.1:8081";
const accounts = Number(process.env.ACCOUNTS ?? 10);
const moves = Number(process.env.MOVES ?? 200);

async function post(path: string, body?: unknown) {
  const res = await fetch(`${commands}${path}`, {
    method: "POST",
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await res.json()) as Record<string, unknown>;
}

async function balances() {
  const res = await fetch(`${query}/balances?limit=1000`);
  return ((await res.json()) as { items: { key: string; value: unknown }[] }).items;
}

const run = Date.now().toString(36);
for (let i = 0; i < accounts; i++)
  await post(`/accounts/demo-${run}-${i}/open`, { owner: `owner ${i}` });
let rejected = 0;
for (let i = 0; i < moves; i++) {
  const account = `/accounts/demo-${run}-${i % accounts}`;
  const outcome =
    i % 3 === 2
      ? await post(`${account}/withdraw`, { amountCents: 700 })
      : await post(`${account}/deposit`, { amountCents: 500 });
  if (outcome.status === "rejected") rejected += 1;
}
console.log(
  `${accounts} accounts, ${moves} moves, ${rejected} withdrawals rejected (insufficient funds)`,
);
const before = await balances();
console.log(`balances served before the rebuild: ${before.length}`);

console.log("rebuilding the balances from the event log:", await post("/admin/rebuild"));
for (;;) {
  const status = (await (await fetch(`${commands}/admin/rebuild`)).json()) as {
    status: string;
    progress?: { done: number; total: number; ratePerSecond: number };
    table?: string;
  };
  if (status.progress) {
    const p = status.progress;
    console.log(
      `  ${status.status}: ${p.done}/${p.total} offsets, ${Math.round(p.ratePerSecond)}/s`,
    );
  }
  if (status.status === "switched") {
    console.log(`switched to ${status.table}`);
    break;
  }
  if (status.status === "failed") throw new Error(JSON.stringify(status));
  await new Promise((resolve) => setTimeout(resolve, 500));
}
const after = await balances();
console.log(
  `balances served after the rebuild: ${after.length}, the same: ${JSON.stringify(after) === JSON.stringify(before)}`,
);
