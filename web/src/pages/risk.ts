// Risk: objects ranked by total risk score, a time chart and the events of the one opened, and
// the risk incidents (notables of the risk incident rules).
import { get, query } from "../api";
import { timeBars } from "../charts";
import { escapeToRow, liveRefresh, replaceKeepingFocus } from "../live";
import type { PageContext } from "../main";
import { TIME_RANGES, badge, clear, empty, errorBox, field, fmtNum, h, timeCell, pager, select, table, text, card } from "../ui";

const PAGE = 25;

export function riskPage(root: HTMLElement, ctx: PageContext): void {
  const range = select("earliest", TIME_RANGES, ctx.params.get("earliest") ?? "-7d");
  const type = select("type", [["", "Any type"], ["system", "system"], ["user", "user"], ["other", "other"]]);
  const list = h("section.list", { "aria-label": "Risk objects" });
  const detail = h("aside.detail#risk-detail", { "aria-label": "Risk object" }, empty("Open an object to see its risk over time."));
  const incidents = h("section#incidents");
  let offset = 0;
  // The object open in the panel and what each section last drew (a refresh that finds the
  // same draws nothing).
  let selected: string | null = null;
  const drawn = { list: "", incidents: "" };
  const keyOf = (o: any): string => `${o.risk_object_type}/${o.risk_object}`;

  const loadObjects = async (quiet: boolean): Promise<void> => {
    const r = await get(`/risk/objects${query({ earliest: range.value, type: type.value, offset, count: PAGE })}`);
    const signature = JSON.stringify([range.value, type.value, offset, r]);
    if (quiet && signature === drawn.list) return;
    drawn.list = signature;
    const max = Math.max(1, ...r.objects.map((o: any) => o.total_score));
    const rows = table<any>(
      r.objects,
      [
        ["Object", (o) => h("div", {}, h("b", {}, o.risk_object), h("div.muted.small", {}, o.risk_object_type))],
        ["Score", (o) => h("div.score", {}, h("div.bar", { style: `width:${(100 * o.total_score) / max}%` }), fmtNum(o.total_score))],
        ["Events", (o) => fmtNum(o.count)],
        ["Detections", (o) => fmtNum(o.detections?.length)],
        ["Tactics", (o) => text(o.tactics)],
        ["Last", (o) => timeCell(o.last_time)],
      ],
      (o, tr, byKeyboard) => {
        for (const other of list.querySelectorAll("tr.selected")) other.classList.remove("selected");
        tr.classList.add("selected");
        selected = keyOf(o);
        openObject(detail, o, range.value, byKeyboard);
      },
      keyOf,
    );
    for (const tr of rows.tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.key === selected);
    replaceKeepingFocus(
      list,
      h("div.list-head", {}, h("h2", {}, "Risk objects"), pager(r.total, offset, PAGE, (o) => ((offset = o), live.refresh()))),
      r.objects.length ? rows : empty("No risk in this range."),
    );
  };

  const loadIncidents = async (quiet: boolean): Promise<void> => {
    const i = await get(`/risk/incidents${query({ count: 50 })}`);
    const signature = JSON.stringify(i);
    if (quiet && signature === drawn.incidents) return;
    drawn.incidents = signature;
    replaceKeepingFocus(
      incidents,
      h("h2", {}, `Risk incidents (${fmtNum(i.total)})`),
      i.incidents.length
        ? table<any>(i.incidents, [
            ["Time", (n) => timeCell(n.time)],
            ["Urgency", (n) => badge("urgency", n.urgency)],
            ["Rule", (n) => n.rule_title || n.search_name],
            ["Object", (n) => text(n.notable?.risk_object)],
            ["Score", (n) => text(n.notable?.risk_score)],
            ["Status", (n) => badge("status", n.status)],
            ["Owner", (n) => n.owner || h("span.muted", {}, "unassigned")],
          ])
        : empty("No risk incident has fired."),
    );
  };

  // A quiet refresh that fails leaves the page as it was (the refresh bar says so).
  const load = async (quiet: boolean): Promise<void> => {
    for (const [section, part] of [[list, loadObjects], [incidents, loadIncidents]] as const) {
      try {
        await part(quiet);
      } catch (e) {
        if (quiet) throw e;
        clear(section, errorBox(e));
      }
    }
  };
  const live = liveRefresh(load);
  escapeToRow(detail, list, () => selected);
  for (const s of [range, type]) s.addEventListener("change", () => ((offset = 0), live.refresh()));
  root.append(
    h("div.page-head", {}, h("h1", {}, "Risk"), live.bar),
    h("form.filters", { onsubmit: (ev: Event) => (ev.preventDefault(), live.refresh()) }, field("Time", range), field("Type", type)),
    h("div.split", {}, list, detail),
    incidents,
  );
}

/** Shows risk object `o` in the panel; opened from the keyboard, the focus moves to its name. */
async function openObject(panel: HTMLElement, o: any, earliest: string, byKeyboard = false): Promise<void> {
  clear(panel, h("div.muted", {}, "Loading…"));
  try {
    const path = `/risk/objects/${encodeURIComponent(o.risk_object_type)}/${encodeURIComponent(o.risk_object)}`;
    const d = await get(`${path}${query({ earliest })}`);
    const buckets: any[] = d.timeline?.buckets ?? [];
    const chart = h("div.chart#risk-chart");
    clear(
      panel,
      h("div.detail-head", {}, h("h2", { tabindex: "-1" }, o.risk_object), h("span.muted", {}, o.risk_object_type)),
      h("div.cards", {}, card("Score", fmtNum(o.total_score)), card("Events", fmtNum(o.count)), card("Detections", fmtNum(o.detections?.length))),
      h("h3", {}, "Risk over time"),
      chart,
      h("h3", {}, "Detections"),
      h("p", {}, text(o.detections)),
      o.techniques?.length ? h("p.muted", {}, "Techniques: ", text(o.techniques)) : null,
      h("h3", {}, `Risk events (${fmtNum(d.events?.length)})`),
      table<any>(d.events ?? [], [
        ["Time", (r) => timeCell(r._time)],
        ["Score", (r) => text(r.risk_score)],
        ["Detection", (r) => text(r.search_name)],
        ["Message", (r) => text(r.risk_message)],
      ]),
    );
    const shown = dense(buckets, d.timeline?.span ?? 3600);
    if (shown.length)
      timeBars(chart, shown.map((b) => b.time), [{ label: "risk score", values: shown.map((b) => b.risk_score), color: "#e5534b" }], 140);
    if (byKeyboard) panel.querySelector<HTMLElement>(".detail-head h2")?.focus();
  } catch (e) {
    clear(panel, errorBox(e));
  }
}

/** The API lists only buckets with risk; the chart gets every bucket from a few before the
 * first to a few after the last, zeros between, so bars keep their width and place. */
function dense(buckets: any[], span: number): { time: number; risk_score: number }[] {
  if (!buckets.length || span <= 0) return [];
  const byTime = new Map(buckets.map((b) => [b.time, b.risk_score]));
  const first = buckets[0].time;
  const last = buckets[buckets.length - 1].time;
  const pad = Math.max(4, Math.round((last - first) / span / 4));
  const out = [];
  for (let t = first - pad * span; t <= last + pad * span && out.length < 2000; t += span) out.push({ time: t, risk_score: byTime.get(t) ?? 0 });
  return out;
}
