// Incident Review: notables with filters, and a detail panel to triage the one opened.
import { api, get, query } from "../api";
import type { PageContext } from "../main";
import { TIME_RANGES, badge, clear, empty, errorBox, field, fmtTime, h, timeCell, input, pager, select, table, text } from "../ui";
import { openSearch, searchLink } from "./search";
import { escapeToRow, liveRefresh, replaceKeepingFocus } from "../live";

const STATUSES = ["new", "in_progress", "pending", "resolved", "closed"];
const URGENCIES = ["critical", "high", "medium", "low", "informational", "unknown"];
const PAGE = 25;

interface Notable {
  id: string;
  time: number;
  search_name: string;
  rule_name?: string;
  rule_title?: string;
  severity?: string;
  urgency: string;
  status: string;
  owner?: string | null;
  updated?: number | null;
  notable: Record<string, any>;
}

export function incidentReview(root: HTMLElement, ctx: PageContext): void {
  const p = ctx.params;
  const f = {
    earliest: select("earliest", TIME_RANGES, p.get("earliest") ?? "-24h"),
    detection: input("detection", "Detection name", p.get("detection") ?? ""),
    urgency: select("urgency", [["", "Any"], ...URGENCIES.map((u): [string, string] => [u, u])], p.get("urgency") ?? ""),
    status: select("status", [["", "Any"], ...STATUSES.map((s): [string, string] => [s, s.replace("_", " ")])], p.get("status") ?? ""),
    owner: input("owner", "user or unassigned", p.get("owner") ?? ""),
    dest: input("dest", "host (* wildcard)", p.get("dest") ?? ""),
    user: input("user", "account (* wildcard)", p.get("user") ?? ""),
    q: input("q", "text anywhere", p.get("q") ?? ""),
  };
  const list = h("section.list", { "aria-label": "Notables" });
  const detail = h("aside.detail#notable-detail", { "aria-label": "Notable detail" }, empty("Open a notable to triage it."));
  let offset = 0;
  // The notable open in the panel, what the list last drew, and the ids on screen (a refresh
  // marks the new ones).
  let selected: string | null = null;
  let drawn = "";
  let seen = new Set<string>();

  const openNotable = (id: string, tr: HTMLTableRowElement, byKeyboard: boolean): void => {
    for (const other of list.querySelectorAll("tr.selected")) other.classList.remove("selected");
    tr.classList.add("selected");
    selected = id;
    openDetail(detail, id, ctx, () => live.refresh(true), byKeyboard);
  };

  // The filters as last applied: a refresh must not apply what is half typed in a box.
  let params: Record<string, string> = {};
  const load = async (quiet: boolean): Promise<void> => {
    if (!quiet) params = Object.fromEntries(Object.entries(f).map(([k, el]) => [k, el.value.trim()]));
    if (!quiet) {
      // Dimmed while it loads, not emptied: the table does not flicker on every filter.
      if (!list.firstChild) list.append(h("div.muted", {}, "Loading…"));
      list.setAttribute("aria-busy", "true");
    }
    let r: { total: number; notables: Notable[] };
    try {
      r = await get(`/notables${query({ ...params, offset, count: PAGE })}`);
    } catch (e) {
      if (quiet) throw e;
      return void clear(list, errorBox(e));
    } finally {
      if (!quiet) list.removeAttribute("aria-busy");
    }
    const signature = JSON.stringify([params, offset, r]);
    if (quiet && signature === drawn) return;
    drawn = signature;
    const fresh = new Set(quiet ? r.notables.map((n) => n.id).filter((id) => !seen.has(id)) : []);
    seen = new Set(r.notables.map((n) => n.id));
    const rows = table<Notable>(
      r.notables,
      [
        ["Time", (n) => timeCell(n.time)],
        ["Urgency", (n) => badge("urgency", n.urgency)],
        ["Title", (n) => h("span.title", {}, n.rule_title || n.rule_name || n.search_name)],
        ["Dest / User", (n) => h("div", {}, text(n.notable.dest), h("div.muted.small", {}, text(n.notable.user)))],
        ["Status", (n) => badge("status", n.status)],
        ["Owner", (n) => n.owner || h("span.muted", {}, "unassigned")],
      ],
      (n, tr, byKeyboard) => openNotable(n.id, tr, byKeyboard),
      (n) => n.id,
    );
    for (const tr of rows.tBodies[0].rows) {
      tr.classList.toggle("selected", tr.dataset.key === selected);
      tr.classList.toggle("fresh", fresh.has(tr.dataset.key ?? ""));
    }
    replaceKeepingFocus(
      list,
      h("div.list-head", {}, h("h2", {}, "Notables"), pager(r.total, offset, PAGE, (o) => ((offset = o), live.refresh()))),
      r.notables.length ? rows : empty("No notables match these filters."),
    );
  };
  const live = liveRefresh(load);

  const form = h(
    "form.filters",
    { onsubmit: (ev: Event) => (ev.preventDefault(), (offset = 0), live.refresh()) },
    field("Time", f.earliest),
    field("Detection", f.detection),
    field("Urgency", f.urgency),
    field("Status", f.status),
    field("Owner", f.owner),
    field("Dest", f.dest),
    field("User", f.user),
    field("Search", f.q),
    h("button.primary", { type: "submit" }, "Apply"),
  );
  for (const s of [f.earliest, f.urgency, f.status]) s.addEventListener("change", () => ((offset = 0), live.refresh()));
  // Escape in the panel goes back to the notable's row, closing the panel unless something
  // was typed in it.
  escapeToRow(detail, list, () => selected, (row) => {
    if (detail.dataset.dirty === "1") return;
    selected = null;
    row?.classList.remove("selected");
    clear(detail, empty("Open a notable to triage it."));
  });
  root.append(h("div.page-head", {}, h("h1", {}, "Incident Review"), live.bar), form, h("div.split", {}, list, detail));
}

/** Shows notable `id` in the panel; opened from the keyboard, the focus moves to its title. */
async function openDetail(panel: HTMLElement, id: string, ctx: PageContext, reload: () => Promise<void>, byKeyboard = false): Promise<void> {
  if (!panel.querySelector(".detail-head")) clear(panel, h("div.muted", {}, "Loading…"));
  try {
    const d = await get(`/notables/${encodeURIComponent(id)}`);
    renderDetail(panel, d, ctx, async () => {
      await reload();
      await openDetail(panel, id, ctx, reload);
    });
    if (byKeyboard) panel.querySelector<HTMLElement>(".detail-head h2")?.focus();
  } catch (e) {
    clear(panel, errorBox(e));
  }
}

function renderDetail(panel: HTMLElement, d: any, ctx: PageContext, refresh: () => Promise<void>): void {
  const n: Notable = d.notable;
  const fields = n.notable ?? {};
  const det = d.detection ?? {};
  const drilldowns: any[] = Array.isArray(fields.drilldown_searches) ? fields.drilldown_searches : [];
  const runnable = drilldowns.filter((x) => !/datamodel\s*[=:]?\s*Risk/i.test(x.search ?? ""));
  const primary = runnable[0];
  const shown = Object.entries(fields).filter(([k]) => !["drilldown_searches", "search", "savedsearch_description"].includes(k));

  const status = select("status", STATUSES.map((s): [string, string] => [s, s.replace("_", " ")]), n.status);
  const urgency = select("urgency", URGENCIES.map((u): [string, string] => [u, u]), n.urgency);
  const owner = input("owner", "unassigned", n.owner ?? "");
  const comment = h("textarea#comment", { name: "comment", rows: 3, placeholder: "What you found, what you did" });
  const saveStatus = h("span.save-status", { role: "status" });
  const edit = h(
    "form.edit",
    {
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const change: Record<string, string> = {};
        if (status.value !== n.status) change.status = status.value;
        if (urgency.value !== n.urgency) change.urgency = urgency.value;
        if (owner.value.trim() !== (n.owner ?? "")) change.owner = owner.value.trim();
        if (comment.value.trim()) change.comment = comment.value.trim();
        if (!Object.keys(change).length) return void (saveStatus.textContent = "Nothing changed.");
        try {
          await api("PATCH", `/notables/${encodeURIComponent(n.id)}`, change);
          await refresh();
        } catch (e) {
          clear(saveStatus, errorBox(e));
        }
      },
    },
    h("div.row", {}, field("Status", status), field("Urgency", urgency), field("Owner", owner)),
    h("button.link", { type: "button", onclick: () => (owner.value = ctx.session.user) }, "Assign to me"),
    field("Comment (Ctrl+Enter saves)", comment),
    h("div.row", {}, h("button.primary#save-notable", { type: "submit" }, "Save"), saveStatus),
  );
  // Escape keeps a panel whose form was touched (see incidentReview).
  panel.dataset.dirty = "";
  for (const type of ["input", "change"]) edit.addEventListener(type, () => (panel.dataset.dirty = "1"));
  comment.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) edit.requestSubmit();
  });

  const audit: any[] = d.audit ?? [];
  const risk: any[] = d.risk_events ?? [];
  replaceKeepingFocus(
    panel,
    h("div.detail-head", {}, badge("urgency", n.urgency), h("h2", { tabindex: "-1" }, n.rule_title || n.search_name)),
    h("div.muted", {}, `${fmtTime(n.time)} · ${n.search_name}`),
    h(
      "div.actions",
      {},
      primary &&
        h(
          "button.primary#drilldown",
          { onclick: () => openSearch(primary.search, primary.earliest_offset, primary.latest_offset) },
          "Drill down: ",
          primary.name,
        ),
      runnable.slice(1).map((x) => h("a.button", { href: searchLink(x.search, x.earliest_offset, x.latest_offset) }, x.name)),
    ),
    h("h3", {}, "Triage"),
    edit,
    h("h3", {}, "Audit trail"),
    h(
      "ol.audit#audit-trail",
      {},
      audit.length
        ? audit.map((a) =>
            h(
              "li",
              {},
              h("span.muted", {}, fmtTime(a.time)),
              " ",
              h("b", {}, a.user),
              a.field === "comment"
                ? [" commented: ", h("q", {}, a.new_value)]
                : [` set ${a.field} `, a.old_value ? [h("s", {}, a.old_value), " → "] : null, h("b", {}, a.new_value)],
            ),
          )
        : h("li.muted", {}, "No changes yet."),
    ),
    det.description && h("h3", {}, "Detection"),
    det.description && h("p.description", {}, det.description),
    (det.mitre_attack_id ?? det.attack_ids)?.length ? h("p.muted", {}, "ATT&CK: ", text(det.mitre_attack_id ?? det.attack_ids)) : null,
    h("h3", {}, `Risk events (${risk.length})`),
    risk.length
      ? table(risk, [
          ["Object", (r) => text(r.risk_object)],
          ["Type", (r) => text(r.risk_object_type)],
          ["Score", (r) => text(r.risk_score)],
          ["Message", (r) => text(r.risk_message)],
        ])
      : empty("No risk events from this result."),
    h("h3", {}, "Fields"),
    h("dl.fields", {}, shown.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, text(v))])),
  );
}
