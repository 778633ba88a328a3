// Search: SPL over the stored events as an asynchronous job (progress, cancel), its results in
// pages and a histogram of events and results over the range.
import { api, ApiError, get, query } from "../api";
import { timeBars } from "../charts";
import type { PageContext } from "../main";
import { clear, empty, errorBox, field, fmtNum, h, input, pager, select, table, text } from "../ui";

const PRESETS: [string, string][] = [
  ["-15m", "Last 15 minutes"],
  ["-60m", "Last 60 minutes"],
  ["-4h", "Last 4 hours"],
  ["-24h", "Last 24 hours"],
  ["-7d", "Last 7 days"],
  ["@d", "Today"],
  ["", "All time"],
  ["custom", "Custom…"],
];
const PAGE = 50;

/** The Search page's address for `search` over [earliest, latest). */
export function searchLink(search: string, earliest?: string | null, latest?: string | null): string {
  return `#/search${query({ q: search, earliest, latest, run: 1 })}`;
}

export function openSearch(search: string, earliest?: string | null, latest?: string | null): void {
  location.hash = searchLink(search, earliest, latest);
}

/** Epoch seconds (drill-downs pass them) as ISO 8601, which the API takes as well. */
function readable(t: string): string {
  return /^\d{9,}(\.\d+)?$/.test(t) ? new Date(Number(t) * 1000).toISOString().replace(".000Z", "Z") : t;
}

export function searchPage(root: HTMLElement, ctx: PageContext): void {
  const p = ctx.params;
  const spl = h("textarea#spl", { name: "search", rows: 4, spellcheck: "false", placeholder: "search `sysmon` EventCode=1 | stats count by host" });
  spl.value = p.get("q") ?? "";
  const earliestGiven = readable(p.get("earliest") ?? "-24h");
  const isPreset = PRESETS.some(([v]) => v === earliestGiven) && !p.get("latest");
  const preset = select("range", PRESETS, isPreset ? earliestGiven : "custom");
  const earliest = input("earliest", "-24h@h, epoch or ISO 8601", earliestGiven);
  const latest = input("latest", "now", readable(p.get("latest") ?? ""));
  const custom = h("div.row.custom-range", {}, field("Earliest", earliest), field("Latest", latest));
  const showCustom = () => (custom.hidden = preset.value !== "custom");
  preset.addEventListener("change", () => {
    if (preset.value !== "custom") {
      earliest.value = preset.value;
      latest.value = "";
    }
    showCustom();
  });
  showCustom();
  const status = h("div.job-status", { role: "status" });
  const chart = h("div.chart#histogram");
  const results = h("section.results");
  const cancel = h("button#cancel", { type: "button", disabled: true }, "Cancel");
  let job: string | null = null;
  let generation = 0;

  const run = async (): Promise<void> => {
    const mine = ++generation;
    clear(status);
    clear(chart);
    clear(results);
    history.replaceState(null, "", searchLink(spl.value, earliest.value, latest.value).replace("&run=1", ""));
    try {
      const j = await api("POST", "/search/jobs", { search: spl.value, earliest: earliest.value || undefined, latest: latest.value || undefined });
      job = j.id;
      cancel.disabled = false;
      await poll(j.id, mine);
    } catch (e) {
      clear(status, errorBox(e));
    }
  };

  const poll = async (id: string, mine: number): Promise<void> => {
    for (;;) {
      if (mine !== generation) return;
      const j = await get(`/search/jobs/${id}`);
      clear(
        status,
        h("progress", { max: 1, value: j.progress ?? 0 }),
        ` ${j.state} · ${fmtNum(j.events_scanned)} events scanned · ${fmtNum(j.result_count)} results · ${fmtNum(j.duration_ms)} ms`,
        j.truncated ? " (truncated)" : "",
      );
      if (j.state !== "running") {
        cancel.disabled = true;
        if (j.error) status.append(errorBox(j.error));
        await showTimeline(id);
        await showResults(id, 0);
        return;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  };

  const showTimeline = async (id: string): Promise<void> => {
    const t = await get(`/search/jobs/${id}/timeline`);
    const buckets: any[] = t.buckets ?? [];
    clear(chart);
    if (!buckets.length) return;
    timeBars(chart, buckets.map((b) => b.epoch), [
      { label: "events", values: buckets.map((b) => b.events), color: "#4c8dff" },
      { label: "results", values: buckets.map((b) => b.results), color: "#f2a93b" },
    ]);
  };

  const showResults = async (id: string, offset: number): Promise<void> => {
    const r = await get(`/search/jobs/${id}/results${query({ offset, count: PAGE })}`);
    const cols: string[] = r.fields ?? [];
    clear(
      results,
      h("div.list-head", {}, h("h2", {}, "Results"), pager(r.total, offset, PAGE, (o) => showResults(id, o))),
      r.results?.length
        ? h("div.scroll", {}, table<any>(r.results, cols.map((c): [string, (row: any) => string] => [c, (row) => text(row[c])])))
        : empty("No results."),
    );
  };

  cancel.addEventListener("click", async () => {
    if (!job) return;
    await api("POST", `/search/jobs/${job}/cancel`).catch((e: ApiError) => status.append(errorBox(e)));
  });
  const form = h(
    "form.search",
    { onsubmit: (ev: Event) => (ev.preventDefault(), run()) },
    field("Search (Enter runs, Shift+Enter for a new line)", spl),
    h("div.row", {}, field("Time range", preset), custom, h("button.primary#run-search", { type: "submit" }, "Search"), cancel),
  );
  spl.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  root.append(h("h1", {}, "Search"), form, status, chart, results);
  if (p.get("run") && spl.value) run();
  else spl.focus();
}
