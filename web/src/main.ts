// The console: login, then a shell with the pages' navigation; pages live in pages/*.ts and
// are chosen by the URL's hash (#/incidents, #/risk, #/detections, #/search?..., #/ingest).
import "./style.css";
import { currentSession, login, logout, whenLoggedOut, type Session } from "./api";
import { clear, errorBox, h } from "./ui";
import { incidentReview } from "./pages/incidents";
import { riskPage } from "./pages/risk";
import { detectionsPage } from "./pages/detections";
import { searchPage } from "./pages/search";
import { ingestPage } from "./pages/ingest";

export interface PageContext {
  session: Session;
  params: URLSearchParams;
}

type Page = (root: HTMLElement, ctx: PageContext) => void | Promise<void>;

const pages: [string, string, Page, string][] = [
  ["incidents", "Incident Review", incidentReview, "1"],
  ["risk", "Risk", riskPage, "2"],
  ["detections", "Detections", detectionsPage, "3"],
  ["search", "Search", searchPage, "4"],
  ["ingest", "Ingest", ingestPage, "5"],
];

const app = document.getElementById("app")!;

function loginView(message?: string): void {
  const user = h("input#login-user", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const pass = h("input#login-password", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const status = h("div.login-status", { role: "status" }, message ?? "");
  const form = h(
    "form.login",
    {
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        status.textContent = "Signing in…";
        try {
          const s = await login(user.value, pass.value);
          shell(s);
        } catch (e) {
          clear(status, errorBox(e));
          pass.select();
        }
      },
    },
    h("div.brand.big", {}, h("span.logo", {}, "◆"), " Vigil"),
    h("p.muted", {}, "Detections over raw endpoint telemetry"),
    h("label.field", {}, h("span", {}, "User"), user),
    h("label.field", {}, h("span", {}, "Password"), pass),
    h("button.primary", { type: "submit" }, "Sign in"),
    status,
  );
  clear(app, h("main.login-page", {}, form));
  user.focus();
}

function route(): { name: string; params: URLSearchParams } {
  const hash = location.hash.replace(/^#\/?/, "");
  const [name, q] = hash.split("?");
  return { name: pages.some((p) => p[0] === name) ? name : "incidents", params: new URLSearchParams(q ?? "") };
}

let current: Session | null = null;

function shell(session: Session): void {
  current = session;
  const nav = h(
    "nav.tabs",
    { "aria-label": "Pages" },
    pages.map(([name, title, , key]) => h("a", { href: `#/${name}`, "data-page": name, title: `${title} (Alt+${key})` }, title)),
  );
  const content = h("main#content", { tabindex: "-1" });
  const header = h(
    "header.top",
    {},
    h("div.brand", {}, h("span.logo", {}, "◆"), " Vigil"),
    nav,
    h(
      "div.who",
      {},
      h("span", {}, session.user),
      h("span.role", {}, session.role),
      h("button.link", { onclick: async () => (await logout(), loginView("Signed out.")) }, "Sign out"),
    ),
  );
  clear(app, header, content);
  render();
}

async function render(): Promise<void> {
  const content = document.getElementById("content");
  if (!content || !current) return;
  const { name, params } = route();
  for (const a of document.querySelectorAll("nav.tabs a")) {
    a.classList.toggle("active", a.getAttribute("data-page") === name);
    if (a.getAttribute("data-page") === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const page = pages.find((p) => p[0] === name)!;
  document.title = `${page[1]} · Vigil`;
  content.replaceChildren();
  try {
    await page[2](content, { session: current, params });
  } catch (e) {
    content.append(errorBox(e));
  }
}

window.addEventListener("hashchange", render);
window.addEventListener("keydown", (ev) => {
  if (!ev.altKey || !current) return;
  const page = pages.find((p) => p[3] === ev.key);
  if (page) {
    ev.preventDefault();
    location.hash = `#/${page[0]}`;
  }
});
whenLoggedOut(() => loginView("Your session ended; sign in again."));

currentSession().then((s) => (s ? shell(s) : loginView()));
