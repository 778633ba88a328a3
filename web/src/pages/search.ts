// Search: SPL over the stored events as an asynchronous job (progress, cancel), its results in
// pages and a histogram of events and results over the range.
import { api, ApiError, get, query } from "../api";
import { timeBars } from "../charts";
import type { PageContext } from "../main";
import { clear, empty, errorBox, field, fmtNum, fmtTime, h, input, pager, select, table, text, timeCell } from "../ui";
import { replaceKeepingFocus } from "../live";

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
  // The page's address names the job (`sid`, as Splunk's): a reload, or a link, shows it again.
  const address = (sid?: string) => `#/search${query({ q: spl.value, earliest: earliest.value, latest: latest.value, sid })}`;

  const run = async (): Promise<void> => {
    const mine = ++generation;
    clear(status);
    clear(chart);
    clear(results);
    history.replaceState(null, "", address());
    try {
      const j = await api("POST", "/search/jobs", { search: spl.value, earliest: earliest.value || undefined, latest: latest.value || undefined });
      history.replaceState(null, "", address(j.id));
      await watch(j.id, mine);
    } catch (e) {
      clear(status, errorBox(e));
    }
  };

  /** Follows job `id` until it ends, then shows its timeline and first page of results. */
  const watch = async (id: string, mine: number): Promise<void> => {
    job = id;
    try {
      for (;;) {
        if (mine !== generation || !root.isConnected) return; // a newer search, or the page was left
        const j = await get(`/search/jobs/${id}`);
        showStatus(j);
        if (j.state !== "running") break;
        cancel.disabled = false;
        await new Promise((r) => setTimeout(r, 300));
      }
      cancel.disabled = true;
      await showTimeline(id);
      await showResults(id, 0);
    } catch (e) {
      cancel.disabled = true;
      if (e instanceof ApiError && e.status === 404) gone(e);
      else status.append(errorBox(e));
    }
  };

  const showStatus = (j: any): void => {
    clear(
      status,
      h("progress", { max: 1, value: j.progress ?? 0, "aria-label": "Progress" }),
      h("b.job-state", {}, j.state),
      ` · ${fmtNum(j.events_scanned)} events scanned · ${fmtNum(j.result_count)} results · ${fmtNum(j.duration_ms)} ms`,
      j.truncated ? " (truncated)" : "",
      j.expires ? h("span.muted", { title: "Finished jobs are kept this long, across restarts" }, ` · kept until ${fmtTime(j.expires)}`) : "",
    );
    if (j.error) status.append(errorBox(j.error));
  };

  /** The job expired, was deleted, or is not this user's: say so, and offer to run it again. */
  const gone = (e: ApiError): void => {
    clear(chart);
    clear(results);
    clear(
      status,
      h(
        "div.gone",
        { role: "alert" },
        h("span", {}, `This search job is gone (${e.message}). Its results are no longer kept.`),
        spl.value.trim() ? h("button#rerun", { type: "button", onclick: () => run() }, "Run the search again") : null,
      ),
    );
  };

  const showTimeline = async (id: string): Promise<void> => {
    const t = await get(`/search/jobs/${id}/timeline`);
    const buckets: any[] = t.buckets ?? [];
    clear(chart);
    if (!buckets.length || !buckets.some((b) => b.events || b.results)) return;
    timeBars(chart, buckets.map((b) => b.epoch), [
      { label: "events", values: buckets.map((b) => b.events), color: "#4c8dff" },
      { label: "results", values: buckets.map((b) => b.results), color: "#f2a93b" },
    ]);
  };

  const showResults = async (id: string, offset: number): Promise<void> => {
    const r = await get(`/search/jobs/${id}/results${query({ offset, count: PAGE })}`);
    const cols: string[] = r.fields ?? [];
    replaceKeepingFocus(
      results,
      h("div.list-head", {}, h("h2", {}, "Results"), pager(r.total, offset, PAGE, (o) => void showResults(id, o).catch(failed))),
      r.results?.length
        ? h("div.scroll", {}, table<any>(r.results, cols.map((c): [string, (row: any) => string] => [c, (row) => text(row[c])])))
        : empty(r.state === "cancelled" ? "The search was cancelled; no results are kept." : "No results."),
    );
  };
  const failed = (e: unknown): void => (e instanceof ApiError && e.status === 404 ? gone(e) : void results.append(errorBox(e)));

  cancel.addEventListener("click", async () => {
    if (!job) return;
    try {
      showStatus(await api("POST", `/search/jobs/${job}/cancel`));
    } catch (e) {
      status.append(errorBox(e));
    }
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
  root.append(h("h1", {}, "Search"), form, recentJobs(), status, chart, results);
  const sid = p.get("sid");
  if (p.get("run") && spl.value) run();
  else if (sid) void watch(sid, ++generation);
  else spl.focus();
}

/** The user's jobs still kept (across restarts too), newest first; opening one shows it. */
function recentJobs(): HTMLElement {
  const body = h("div.recent-body");
  const box = h("details.recent#recent-jobs", {}, h("summary", {}, "Recent searches"), body) as HTMLDetailsElement;
  box.addEventListener("toggle", async () => {
    if (!box.open) return;
    try {
      const r = await get("/search/jobs");
      const jobs: any[] = r.jobs ?? [];
      clear(
        body,
        jobs.length
          ? table<any>(
              jobs,
              [
                ["Started", (j) => timeCell(j.created)],
                ["Search", (j) => h("code", {}, j.search)],
                ["Range", (j) => `${fmtTime(j.earliest) || "all time"} → ${fmtTime(j.latest) || "now"}`],
                ["State", (j) => h("span.job-state-cell", {}, j.state)],
                ["Results", (j) => fmtNum(j.result_count)],
                ["Kept until", (j) => timeCell(j.expires)],
              ],
              (j) => (location.hash = `#/search${query({ q: j.search, earliest: j.earliest, latest: j.latest, sid: j.id })}`),
              (j) => j.id,
            )
          : empty("No search jobs are kept."),
      );
    } catch (e) {
      clear(body, errorBox(e));
    }
  });
  return box;
}
