// Search: SPL over the stored events as an asynchronous job (progress, cancel), its results in
// pages and a histogram of events and results over the range (the job's view: searchjob.ts).
import { api, get, query } from "../api";
import type { PageContext } from "../main";
import { clear, empty, errorBox, field, fmtNum, fmtTime, h, input, select, table, timeCell } from "../ui";
import { jobView } from "./searchjob";

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
  // The page's address names the job (`sid`, as Splunk's): a reload, or a link, shows it again.
  const address = (sid?: string) => `#/search${query({ q: spl.value, earliest: earliest.value, latest: latest.value, sid })}`;
  const view = jobView(root, () => (spl.value.trim() ? void run() : spl.focus()));

  const run = async (): Promise<void> => {
    const mine = view.reset();
    history.replaceState(null, "", address());
    try {
      const j = await api("POST", "/search/jobs", { search: spl.value, earliest: earliest.value || undefined, latest: latest.value || undefined });
      history.replaceState(null, "", address(j.id));
      await view.watch(j.id, mine);
    } catch (e) {
      view.error(e);
    }
  };

  const form = h(
    "form.search",
    { onsubmit: (ev: Event) => (ev.preventDefault(), run()) },
    field("Search (Enter runs, Shift+Enter for a new line)", spl),
    h("div.row", {}, field("Time range", preset), custom, h("button.primary#run-search", { type: "submit" }, "Search"), view.cancel),
  );
  spl.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  root.append(h("h1", {}, "Search"), form, recentJobs(), view.status, view.chart, view.results);
  const sid = p.get("sid");
  if (p.get("run") && spl.value) run();
  else if (sid) void view.watch(sid, view.reset());
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
