// Ingest: what HEC received per token and sourcetype, the store on disk, retention.
import { get } from "../api";
import type { PageContext } from "../main";
import { clear, empty, errorBox, fmtBytes, fmtNum, fmtTime, h, timeCell, table, card } from "../ui";
import { liveRefresh, replaceKeepingFocus } from "../live";

export function ingestPage(root: HTMLElement, _ctx: PageContext): void {
  const body = h("div#ingest");
  let drawn = "";
  const load = async (quiet: boolean): Promise<void> => {
    let s: any;
    try {
      s = await get("/ingest");
    } catch (e) {
      if (quiet) throw e;
      return void clear(body, errorBox(e));
    }
    // The server's time changes every call; redraw when anything else did.
    const signature = JSON.stringify({ ...s, now: undefined });
    if (quiet && signature === drawn) return;
    drawn = signature;
    replaceKeepingFocus(body, ingestView(s));
  };
  const live = liveRefresh(load);
  root.append(h("div.page-head", {}, h("h1", {}, "Ingest"), live.bar), body);
}

function ingestView(s: any): HTMLElement[] {
  const rates: any[] = s.received?.by_token_sourcetype ?? [];
  const store = s.store ?? {};
  return [
    h(
      "div.cards",
      {},
      card("Events received", fmtNum(s.received?.events)),
      card("Events/s (1 min)", fmtNum(sum(rates, "eps_1m"), 2)),
      card("Events/s (15 min)", fmtNum(sum(rates, "eps_15m"), 2)),
      card("Store on disk", fmtBytes(store.bytes ?? 0)),
      card("Partitions", `${fmtNum(store.partitions)} (${fmtNum(store.sealed)} sealed)`),
      card("Hours stored", store.oldest_partition ? `${store.oldest_partition} → ${store.newest_partition}` : "none"),
    ),
    h("section.panel", {}, h("h2", {}, "By token and sourcetype"), rates.length
      ? table(rates, [
          ["Token", (r) => r.token],
          ["Sourcetype", (r) => r.sourcetype],
          ["Events", (r) => fmtNum(r.events)],
          ["Bytes", (r) => fmtBytes(r.bytes)],
          ["Events/s 1m", (r) => fmtNum(r.eps_1m, 2)],
          ["5m", (r) => fmtNum(r.eps_5m, 2)],
          ["15m", (r) => fmtNum(r.eps_15m, 2)],
          ["Bytes/s 5m", (r) => fmtBytes(r.bytes_per_sec_5m)],
          ["First", (r) => timeCell(r.first_received)],
          ["Last", (r) => timeCell(r.last_received)],
        ])
      : empty("Nothing received since the server started.")),
    h("section.panel", {}, h("h2", {}, "Retention"), h(
      "p",
      {},
      `Segments are sealed (compressed) after ${fmtNum(s.retention?.seal_idle_secs)} s idle. `,
      s.retention?.max_age_secs == null && s.retention?.max_bytes == null ? "No age or size limit: the store keeps everything." : "",
    ),
    h("p.muted", {}, `Server time ${fmtTime(s.now)}`)),
  ];
}

function sum(rows: any[], key: string): number {
  return rows.reduce((a, r) => a + (Number(r[key]) || 0), 0);
}
