// Small DOM helpers: the console builds its pages from plain elements (no framework).

type Child = Node | string | number | null | undefined | false;
export type Children = Child | Children[];
type Attrs = Record<string, string | number | boolean | EventListener | undefined | null>;

/** An element: h("button.primary#go", {onclick: f}, "Go"). */
export function h<K extends keyof HTMLElementTagNameMap>(
  spec: K | `${K}${"." | "#"}${string}`,
  attrs: Attrs = {},
  ...children: Children[]
): HTMLElementTagNameMap[K] {
  const tag = spec.match(/^[a-z0-9]+/i)?.[0] ?? "div";
  const el = document.createElement(tag as K);
  for (const [, kind, name] of spec.slice(tag.length).matchAll(/([.#])([^.#]+)/g)) {
    if (kind === "#") el.id = name;
    else el.classList.add(name);
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    else if (k === "class") el.classList.add(...String(v).split(" ").filter(Boolean));
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Children[]): void {
  for (const c of children.flat(Infinity as 1) as Child[]) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
}

export function clear(el: Element, ...children: Children[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Epoch seconds (number) or ISO text -> "2026-11-20 10:25:01" (UTC). */
export function fmtTime(t: number | string | null | undefined): string {
  if (t === null || t === undefined || t === "") return "";
  const d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "").replace("Z", "");
}

/** A time for a table cell: one line. */
export function timeCell(t: number | string | null | undefined): HTMLElement {
  return h("span.nowrap", {}, fmtTime(t));
}

export function fmtBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function fmtNum(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined) return "";
  return n.toLocaleString("en-US", { maximumFractionDigits: digits });
}

/** A field value as text (multivalue fields joined by commas). */
export function text(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map(text).join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export function badge(kind: string, value: string): HTMLElement {
  return h("span.badge", { class: `${kind}-${value.replace(/[^a-z_]/gi, "")}` }, value.replace(/_/g, " "));
}

export function errorBox(e: unknown): HTMLElement {
  return h("div.error", { role: "alert" }, e instanceof Error ? e.message : String(e));
}

export function empty(message: string): HTMLElement {
  return h("div.empty", {}, message);
}

/**
 * A table: columns of [header, cell(row)]. With `open`, rows are clickable and focusable:
 * Enter opens the focused row (`byKeyboard` true), the arrow keys move between rows. With
 * `key`, each row carries `data-key` (refreshes find the selected or focused row again).
 */
export function table<T>(
  rows: T[],
  columns: [string, (row: T) => Children][],
  open?: (row: T, tr: HTMLTableRowElement, byKeyboard: boolean) => void,
  key?: (row: T) => string,
): HTMLTableElement {
  const head = h("thead", {}, h("tr", {}, columns.map(([name]) => h("th", { scope: "col" }, name))));
  const body = h("tbody");
  for (const row of rows) {
    const tr = h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row))));
    if (key) tr.dataset.key = key(row);
    if (open) {
      tr.tabIndex = 0;
      tr.classList.add("clickable");
      tr.addEventListener("click", () => open(row, tr, false));
      tr.addEventListener("keydown", (ev) => {
        if (ev.target !== tr) return; // a control inside the row has its own keys
        if (ev.key === "Enter") open(row, tr, true);
        else if (ev.key === "ArrowDown") (tr.nextElementSibling as HTMLElement | null)?.focus();
        else if (ev.key === "ArrowUp") (tr.previousElementSibling as HTMLElement | null)?.focus();
        else return;
        ev.preventDefault();
      });
    }
    body.append(tr);
  }
  return h("table.grid", {}, head, body);
}

/** Previous / next paging for offset+count listings. */
export function pager(total: number, offset: number, count: number, go: (offset: number) => void): HTMLElement {
  const last = Math.min(total, offset + count);
  return h(
    "div.pager",
    {},
    h("span", {}, total ? `${fmtNum(offset + 1)}–${fmtNum(last)} of ${fmtNum(total)}` : "none"),
    h("button", { disabled: offset === 0, onclick: () => go(Math.max(0, offset - count)) }, "‹ Prev"),
    h("button", { disabled: last >= total, onclick: () => go(offset + count) }, "Next ›"),
  );
}

export function field(label: string, control: HTMLElement): HTMLElement {
  return h("label.field", {}, h("span", {}, label), control);
}

export function select(name: string, options: [string, string][], value = ""): HTMLSelectElement {
  const s = h("select", { name });
  for (const [v, label] of options) s.append(h("option", { value: v, selected: v === value }, label));
  return s;
}

export function input(name: string, placeholder = "", value = ""): HTMLInputElement {
  const i = h("input", { name, placeholder, type: "text" });
  i.value = value;
  return i;
}

/** The time ranges the listing pages offer (Splunk modifiers; "" is all time). */
export const TIME_RANGES: [string, string][] = [
  ["-24h", "Last 24 hours"],
  ["-7d", "Last 7 days"],
  ["-30d", "Last 30 days"],
  ["", "All time"],
];

/** A labelled figure (Ingest totals, a risk object's score). */
export function card(label: string, value: string): HTMLElement {
  return h("div.card", {}, h("div.card-label", {}, label), h("div.card-value", {}, value));
}
