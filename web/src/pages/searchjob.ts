// One search job on the Search page: its state and progress (Cancel while it runs), then the
// histogram of events and results and the results in pages; a job that is gone is said so.
import { api, ApiError, get, query } from "../api";
import { timeBars } from "../charts";
import { replaceKeepingFocus } from "../live";
import { clear, empty, errorBox, fmtNum, fmtTime, h, pager, table, text } from "../ui";

const PAGE = 50;

export interface JobView {
  status: HTMLElement;
  chart: HTMLElement;
  results: HTMLElement;
  cancel: HTMLButtonElement;
  /** Clears the view for a new job; the number to give `watch` (an older watch then stops). */
  reset(): number;
  /** Follows job `id` until it ends, then shows its histogram and first page of results. */
  watch(id: string, mine: number): Promise<void>;
  /** Says why a job could not start. */
  error(e: unknown): void;
}

/** The view of a job on `page`; `rerun` runs the search again when the job is gone. */
export function jobView(page: HTMLElement, rerun: () => void): JobView {
  const status = h("div.job-status", { role: "status" });
  const chart = h("div.chart#histogram");
  const results = h("section.results");
  const cancel = h("button#cancel", { type: "button", disabled: true }, "Cancel") as HTMLButtonElement;
  let job: string | null = null;
  let generation = 0;

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
        h("button#rerun", { type: "button", onclick: rerun }, "Run the search again"),
      ),
    );
  };
  const failed = (e: unknown): void => (e instanceof ApiError && e.status === 404 ? gone(e) : void results.append(errorBox(e)));

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

  const watch = async (id: string, mine: number): Promise<void> => {
    job = id;
    try {
      for (;;) {
        if (mine !== generation || !page.isConnected) return; // a newer search, or the page was left
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
      failed(e);
    }
  };

  cancel.addEventListener("click", async () => {
    if (!job) return;
    try {
      showStatus(await api("POST", `/search/jobs/${job}/cancel`));
    } catch (e) {
      status.append(errorBox(e));
    }
  });

  const reset = (): number => {
    job = null;
    cancel.disabled = true;
    clear(status);
    clear(chart);
    clear(results);
    return ++generation;
  };
  return { status, chart, results, cancel, reset, watch, error: (e) => clear(status, errorBox(e)) };
}
