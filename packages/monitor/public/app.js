// The monitor page: polls the monitor's JSON API and renders it with Preact and htm
// (tagged templates instead of JSX, so the page runs as served, without a build step).
import htm from "htm";
import { h, render } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";

const html = htm.bind(h);
const POLL_MS = 1500;

// A token given as `#token=...` is kept for the tab only and taken out of the address bar.
const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
if (hashToken) {
  sessionStorage.setItem("toka-monitor-token", hashToken);
  history.replaceState(null, "", location.pathname + location.search);
}
const token = sessionStorage.getItem("toka-monitor-token");

async function getJson(path) {
  const response = await fetch(`./api/${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
  return body;
}

/** Calls `load` now and every POLL_MS while `key` stays the same. */
function usePolled(load, key) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  useEffect(() => {
    let live = true;
    const tick = () =>
      load().then(
        (data) => live && setState({ data, error: undefined }),
        (error) => live && setState((s) => ({ data: s.data, error: error.message })),
      );
    tick();
    const timer = setInterval(tick, POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [key]);
  return state;
}

const time = (ms) => new Date(ms).toLocaleTimeString();

function Groups({ groups, selected, onSelect }) {
  return html`<section id="groups" aria-label="Groups">
    <h2>Groups</h2>
    <table>
      <thead><tr><th>group</th><th>state</th><th>members</th><th>instances here</th></tr></thead>
      <tbody>
        ${groups.map(
          (g) => html`<tr key=${g.group} class=${g.group === selected ? "selected" : ""}>
            <td><button type="button" onClick=${() => onSelect(g.group)}>${g.group}</button></td>
            <td>${g.state}</td><td>${g.members}</td><td>${g.localInstances}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function Members({ members }) {
  return html`<section id="members" aria-label="Instances">
    <h2>Instances</h2>
    <table>
      <thead><tr><th>client</th><th>host</th><th>partitions</th></tr></thead>
      <tbody>
        ${members.map((m) => {
          const partitions = [...new Set(Object.values(m.assignment).flat())].sort((a, b) => a - b);
          return html`<tr key=${m.memberId}>
            <td>${m.clientId}</td><td>${m.host}</td><td>${partitions.join(", ") || "none"}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </section>`;
}

function recoveryText(recovery) {
  if (!recovery) return "–";
  const percent =
    recovery.total === 0 ? 100 : Math.floor((recovery.recovered / recovery.total) * 100);
  return `${recovery.recovered} / ${recovery.total} (${percent}%)`;
}

/** The lag of each standby replica kept in this process; "–" for none. */
function standbyText(standbys) {
  if (!standbys || standbys.length === 0) return "–";
  return standbys.map((s) => (s.lag === undefined ? "?" : String(s.lag))).join(", ");
}

function Partitions({ partitions }) {
  return html`<section id="partitions" aria-label="Partitions">
    <h2>Partitions</h2>
    <table>
      <thead>
        <tr><th>partition</th><th>owner</th><th>state</th><th>lag</th><th>committed / end</th><th>recovery</th><th>standby lag</th></tr>
      </thead>
      <tbody>
        ${partitions.map(
          (p) => html`<tr key=${p.partition} data-partition=${p.partition}>
            <td>${p.partition}</td>
            <td>${p.owner ? `${p.owner.clientId} (${p.owner.host})` : "unassigned"}</td>
            <td class="state">${p.state ?? "–"}</td>
            <td class="lag">${p.lag}</td>
            <td>${p.inputs.map((i) => `${i.topic}: ${i.committed ?? "–"} / ${i.end}`).join("; ")}</td>
            <td>${recoveryText(p.recovery)}</td>
            <td class="standby">${standbyText(p.standbys)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function Throughput({ throughput, source }) {
  const { counts, bucketMs, perSecond } = throughput;
  const width = 600;
  const height = 80;
  const max = Math.max(1, ...counts);
  const step = width / Math.max(1, counts.length - 1);
  const points = counts.map(
    (c, i) => `${(i * step).toFixed(1)},${(height - (c / max) * (height - 4)).toFixed(1)}`,
  );
  const minutes = Math.round((counts.length * bucketMs) / 60000);
  return html`<section id="throughput" aria-label="Throughput">
    <h2>Throughput</h2>
    <p>
      <strong class="rate">${perSecond.toFixed(1)} msg/s</strong>
      ${` over the last ${minutes} min (peak ${max} per ${bucketMs / 1000} s), ${source === "instances" ? "counted by the instances in this process" : "from committed offsets"}`}
    </p>
    <svg viewBox="0 0 ${width} ${height}" width=${width} height=${height} role="img" aria-label="messages per ${bucketMs / 1000} s">
      <polyline points=${points.join(" ")} fill="none" stroke="currentColor" stroke-width="2" />
    </svg>
  </section>`;
}

function DeadLetters({ group }) {
  const { data, error } = usePolled(
    () => getJson(`groups/${encodeURIComponent(group)}/dlq`),
    group,
  );
  return html`<section id="dlq" aria-label="Dead letters">
    <h2>Dead letters ${data ? html`<small>${data.topic}, ${data.letters.length} shown</small>` : ""}</h2>
    ${error ? html`<p class="error">${error}</p>` : ""}
    ${data && data.letters.length === 0 ? html`<p>No dead letters.</p>` : ""}
    <ol class="letters">
      ${(data?.letters ?? []).map(
        (l) => html`<li key=${`${l.partition}:${l.offset}`} class="letter">
          <div>
            <code class="code">${l.error.code ?? "?"}</code>
            <span> key <code>${l.key ?? "(null)"}</code></span>
            <span> from <code class="source">${l.source.topic}/${l.source.partition}/${l.source.offset}</code></span>
            <span> at ${time(l.timestamp)}, letter ${l.partition}:${l.offset}</span>
            ${l.truncated ? html`<strong> (truncated)</strong>` : ""}
          </div>
          <div class="message">${l.error.message}</div>
          <pre class="preview">${l.preview}</pre>
        </li>`,
      )}
    </ol>
  </section>`;
}

function TableBrowser({ group }) {
  const [key, setKey] = useState("");
  const [result, setResult] = useState(undefined);
  const lookUp = useCallback(
    (event) => {
      event.preventDefault();
      if (!key) return;
      setResult({ loading: true });
      getJson(`groups/${encodeURIComponent(group)}/table/${encodeURIComponent(key)}`).then(
        (data) => setResult({ data }),
        (error) => setResult({ error: error.message }),
      );
    },
    [group, key],
  );
  const data = result?.data;
  return html`<section id="table" aria-label="Table">
    <h2>Table <small>${group}-table</small></h2>
    <form onSubmit=${lookUp}>
      <label>key <input name="key" value=${key} onInput=${(e) => setKey(e.currentTarget.value)} /></label>
      <button type="submit">Look up</button>
    </form>
    ${result?.loading ? html`<p>Reading…</p>` : ""}
    ${result?.error ? html`<p class="error">${result.error}</p>` : ""}
    ${
      data && !data.current
        ? html`<p class="value">No record of key <code>${data.key}</code>.</p>`
        : ""
    }
    ${
      data?.current
        ? html`<div>
            <p>Value of <code>${data.key}</code> (partition ${data.current.partition}, offset ${data.current.offset}):</p>
            <pre class="value">${JSON.stringify(data.current.value, null, 2)}</pre>
            ${data.current.dedup !== undefined ? html`<p>Dedup record:</p><pre class="dedup">${JSON.stringify(data.current.dedup)}</pre>` : ""}
            <h3>History</h3>
            <table class="history">
              <thead><tr><th>offset</th><th>time</th><th>value</th></tr></thead>
              <tbody>
                ${data.history.map(
                  (r) =>
                    html`<tr key=${r.offset}><td>${r.offset}</td><td>${time(r.timestamp)}</td><td><code>${JSON.stringify(r.value)}</code></td></tr>`,
                )}
              </tbody>
            </table>
          </div>`
        : ""
    }
  </section>`;
}

function Group({ group }) {
  const { data, error } = usePolled(() => getJson(`groups/${encodeURIComponent(group)}`), group);
  return html`<article aria-label=${`Group ${group}`}>
    <h1>${group} <small>${data?.state ?? ""}</small></h1>
    ${error ? html`<p class="error">${error}</p>` : ""}
    ${
      data
        ? html`<${Members} members=${data.members} />
          <${Partitions} partitions=${data.partitions} />
          <${Throughput} throughput=${data.throughput} source=${data.throughputSource} />`
        : ""
    }
    <${DeadLetters} group=${group} />
    <${TableBrowser} group=${group} />
  </article>`;
}

function App() {
  const { data, error } = usePolled(() => getJson("groups"), "groups");
  const [chosen, setChosen] = useState(new URLSearchParams(location.search).get("group"));
  const groups = data?.groups ?? [];
  const selected = chosen ?? groups[0]?.group;
  return html`<header><strong>toka monitor</strong></header>
    ${error ? html`<p class="error">${error}</p>` : ""}
    ${data && groups.length === 0 ? html`<p>No toka groups in this cluster yet.</p>` : ""}
    <${Groups} groups=${groups} selected=${selected} onSelect=${setChosen} />
    ${selected ? html`<${Group} key=${selected} group=${selected} />` : ""}`;
}

render(html`<${App} />`, document.getElementById("app"));
