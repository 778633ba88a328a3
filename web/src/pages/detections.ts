// Detections: health of every scheduled detection (last runs, errors, next run); admins
// enable and disable.
import { api, get, query } from "../api";
import type { PageContext } from "../main";
import { liveRefresh, replaceKeepingFocus } from "../live";
import { append, clear, empty, errorBox, field, fmtNum, fmtTime, h, timeCell, input, select, table, text } from "../ui";

export function detectionsPage(root: HTMLElement, ctx: PageContext): void {
  const admin = ctx.session.role === "admin";
  const enabled = select("enabled", [["", "All"], ["true", "Enabled"], ["false", "Disabled"]], "true");
  const q = input("q", "name or text");
  const list = h("section");
  let drawn = "";
  // The filters as last applied: a refresh must not apply what is half typed in the box.
  let applied = "";
  const load = async (quiet: boolean): Promise<void> => {
    if (!quiet) applied = query({ enabled: enabled.value, q: q.value.trim() });
    let r: any;
    try {
      r = await get(`/detections${applied}`);
    } catch (e) {
      if (quiet) throw e;
      return void clear(list, errorBox(e));
    }
    const signature = JSON.stringify([applied, r]);
    if (quiet && signature === drawn) return;
    drawn = signature;
    replaceKeepingFocus(
      list,
      h("p.muted", {}, `${fmtNum(r.total)} detection${r.total === 1 ? "" : "s"}`),
      r.detections.length
        ? h(
            "div.scroll",
            {},
            table<any>(
              r.detections,
              [
                ["Detection", (d) => h("div", {}, h("b", {}, d.name), h("div.muted.small", {}, `${d.type} · ${text(d.mitre_attack_id)}`))],
                ["State", (d) => health(d)],
                ["Schedule", (d) => h("code", {}, d.cron ?? "")],
                ["Next run", (d) => timeCell(d.next_run)],
                ["Runs", (d) => fmtNum(d.runs)],
                ["Last run", (d) => lastRun(d.last_runs?.[0])],
                ["Last error", (d) => (d.last_error ? h("span.err-text", {}, text(d.last_error)) : "")],
                ["", (d) => (admin ? toggle(d, list, () => live.refresh()) : null)],
              ],
              undefined,
              (d) => d.name,
            ),
          )
        : empty("No detection matches."),
    );
  };
  const live = liveRefresh(load);
  enabled.addEventListener("change", () => live.refresh());
  append(root, [
    h("div.page-head", {}, h("h1", {}, "Detections"), live.bar),
    h(
      "form.filters",
      { onsubmit: (ev: Event) => (ev.preventDefault(), live.refresh()) },
      field("Show", enabled),
      field("Find", q),
      h("button.primary", { type: "submit" }, "Apply"),
    ),
    admin ? null : h("p.muted", {}, "Only admins enable and disable detections."),
    list,
  ]);
}

function health(d: any): HTMLElement {
  if (!d.enabled) return h("span.badge.state-off", {}, "disabled");
  if (!d.scheduled) return h("span.badge.state-bad", { title: d.not_scheduled_reason ?? "" }, "not scheduled");
  if (d.last_error) return h("span.badge.state-bad", {}, "failing");
  if (d.missed_ticks) return h("span.badge.state-warn", {}, `${d.missed_ticks} missed`);
  return h("span.badge.state-ok", {}, "healthy");
}

function lastRun(r: any): HTMLElement | string {
  if (!r) return h("span.muted", {}, "never");
  return h(
    "div",
    {},
    fmtTime(r.scheduled_time),
    h("div.muted.small", {}, `${fmtNum(r.duration_ms)} ms · ${fmtNum(r.events_scanned)} events · ${fmtNum(r.results)} results · ${fmtNum(r.notables)} notables`),
  );
}

/** Enable/Disable; the focus stays on the row's button after the list is redrawn. */
function toggle(d: any, list: HTMLElement, reload: () => Promise<void>): HTMLElement {
  return h(
    "button",
    {
      onclick: async (ev: Event) => {
        const b = ev.currentTarget as HTMLButtonElement;
        b.disabled = true;
        try {
          await api("PATCH", `/detections/${encodeURIComponent(d.name)}`, { enabled: !d.enabled });
          await reload();
          const row = [...list.querySelectorAll<HTMLElement>("tr[data-key]")].find((tr) => tr.dataset.key === d.name);
          row?.querySelector("button")?.focus();
        } catch (e) {
          b.replaceWith(errorBox(e));
        }
      },
    },
    d.enabled ? "Disable" : "Enable",
  );
}
