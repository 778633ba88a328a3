// Pages that watch the server (Incident Review, Risk, Detections, Ingest) refresh by themselves:
// a bar says when the page was last updated, pauses and resumes, and refreshes now. A refresh
// re-renders only what changed, keeping the selection, the open detail and the focus.
import { clear, h, type Children } from "./ui";

/** Refresh periods offered, in seconds; the choice is kept in localStorage. */
const PERIODS = [10, 30, 60];
const PERIOD_KEY = "vigil.refresh_secs";

function storedPeriod(): number {
  const n = Number(localStorage.getItem(PERIOD_KEY));
  return Number.isFinite(n) && n >= 1 ? n : PERIODS[0];
}

/**
 * A refresh bar for a page: `load(quiet)` runs now (quiet = false) and then every period
 * (quiet = true: no loading state, nothing redrawn unless the data changed) while the bar is
 * on screen, the tab visible and the user has not paused. Any other caller (a filter, a save)
 * goes through the returned `refresh`, so the "updated" time stays true.
 */
export function liveRefresh(load: (quiet: boolean) => Promise<void>): { bar: HTMLElement; refresh: (quiet?: boolean) => Promise<void> } {
  let period = storedPeriod();
  let paused = false;
  let timer: number | undefined;
  // Not a live region: a screen reader would read it out at every refresh.
  const stamp = h("span.updated", {}, "Loading…");
  const pause = h("button#live-pause", { type: "button", "aria-pressed": "false", title: "Stop refreshing this page by itself" }, "Pause");
  const now = h("button#live-refresh", { type: "button", title: "Refresh now" }, "Refresh");
  const choices = PERIODS.includes(period) ? PERIODS : [period, ...PERIODS];
  const every = h("select", { name: "refresh_secs", "aria-label": "Refresh every" }) as HTMLSelectElement;
  for (const s of choices) every.append(h("option", { value: String(s), selected: s === period }, `every ${s} s`));
  const bar = h("div.live-bar", { role: "group", "aria-label": "Automatic refresh" }, stamp, every, pause, now);

  const schedule = (): void => {
    window.clearTimeout(timer);
    if (!paused) timer = window.setTimeout(tick, period * 1000);
  };
  let updated = "";
  const showStamp = (): void => clear(stamp, updated ? `Updated ${updated}` : "Loading…", paused ? " · paused" : "");
  // One load at a time, in the order asked: a filter applied during a quiet refresh still runs.
  let queue: Promise<void> = Promise.resolve();
  const refresh = (quiet = false): Promise<void> => {
    queue = queue
      .catch(() => {})
      .then(async () => {
        bar.dataset.loading = "1"; // dims the stamp while a refresh is on its way
        try {
          await load(quiet);
        } finally {
          delete bar.dataset.loading;
        }
        updated = new Date().toLocaleTimeString("en-GB");
        showStamp();
        bar.dataset.refreshes = String(Number(bar.dataset.refreshes ?? 0) + 1);
      });
    return queue;
  };
  // A quiet refresh that fails leaves the page as it was; the bar says so (and it retries).
  const failed = (e: unknown): void => {
    showStamp();
    stamp.append(h("span.err-text", {}, ` · refresh failed: ${e instanceof Error ? e.message : String(e)}`));
  };
  const tick = async (): Promise<void> => {
    if (!bar.isConnected) return; // the page was left: stop
    if (!document.hidden) await refresh(true).catch(failed);
    schedule();
  };
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    showStamp();
    schedule();
  });
  now.addEventListener("click", () => void refresh(true).catch(failed));
  every.addEventListener("change", () => {
    period = Number(every.value);
    localStorage.setItem(PERIOD_KEY, every.value);
    schedule();
  });
  // Back on a hidden tab: refresh at once. (Removed once the page is left.)
  const onVisible = (): void => {
    if (!bar.isConnected) return document.removeEventListener("visibilitychange", onVisible);
    if (!document.hidden && !paused) void tick();
  };
  document.addEventListener("visibilitychange", onVisible);
  queueMicrotask(() => void refresh(false).catch(() => {}).finally(schedule));
  return { bar, refresh };
}

/** Elements a keyboard reaches, in order. */
export function focusables(root: Element): HTMLElement[] {
  const sel = "summary, a[href], button:not(:disabled), input:not(:disabled), select:not(:disabled), textarea:not(:disabled), [tabindex]:not([tabindex='-1'])";
  return [...root.querySelectorAll<HTMLElement>(sel)];
}

/**
 * Replaces `container`'s children and puts the focus back where it was: the same keyed row
 * (`data-key`), the same control within it, or the same position among the container's
 * controls, so a refresh or a page change does not throw a keyboard user out.
 */
export function replaceKeepingFocus(container: HTMLElement, ...children: Children[]): void {
  const active = document.activeElement as HTMLElement | null;
  if (!active || !container.contains(active)) return clear(container, ...children);
  const row = active.closest<HTMLElement>("[data-key]");
  const key = row && container.contains(row) ? row.dataset.key : undefined;
  const inRow = row && row !== active ? focusables(row).indexOf(active) : -1;
  const position = focusables(container).indexOf(active);
  clear(container, ...children);
  let target: HTMLElement | undefined;
  if (key !== undefined) {
    const same = [...container.querySelectorAll<HTMLElement>("[data-key]")].find((r) => r.dataset.key === key);
    target = same && inRow >= 0 ? focusables(same)[inRow] : same;
  }
  if (!target && position >= 0) {
    const all = focusables(container);
    target = all[Math.min(position, all.length - 1)];
  }
  target?.focus({ preventScroll: true });
}

/**
 * Escape inside a detail `panel` goes back to the list row it shows (`data-key` = `key()`);
 * `leave` runs first with that row (to close the panel, say).
 */
export function escapeToRow(panel: HTMLElement, list: HTMLElement, key: () => string | null, leave?: (row?: HTMLElement) => void): void {
  panel.addEventListener("keydown", (ev: Event) => {
    const k = key();
    if ((ev as KeyboardEvent).key !== "Escape" || k === null) return;
    ev.preventDefault();
    const row = [...list.querySelectorAll<HTMLElement>("tr[data-key]")].find((tr) => tr.dataset.key === k);
    leave?.(row);
    row?.focus();
  });
}
