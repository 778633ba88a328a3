//! Embeds the web console (web/dist, built by vite from web/src) into the binary.
//!
//! When web/dist is missing or older than the console's sources and npm is on PATH, runs
//! `npm ci` (only when web/node_modules is missing) and `npm run build` first. Without npm, or
//! when the build fails, embeds a page that says how to build the console and prints a cargo
//! warning, so the rest of vigil builds and runs on a machine without node.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let web = manifest.join("../../web");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("console_assets.rs");
    // dist is watched so a deleted or hand-built dist is noticed; an npm build run from here
    // writes it during the run, which costs one extra rerun (no npm) on the next build.
    for input in ["src", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json", "dist"] {
        println!("cargo:rerun-if-changed={}", web.join(input).display());
    }
    println!("cargo:rerun-if-env-changed=VIGIL_SKIP_CONSOLE_BUILD");
    println!("cargo:rerun-if-env-changed=VIGIL_NPM");
    let dist = web.join("dist");
    let skip = std::env::var_os("VIGIL_SKIP_CONSOLE_BUILD").is_some();
    let mut why_not = None;
    if web.join("package.json").is_file() && !skip && is_stale(&web, &dist) {
        why_not = npm_build(&web).err();
    }
    let files = if dist.join("index.html").is_file() && !is_stale(&web, &dist) { list(&dist) } else { Vec::new() };
    if files.is_empty() && !skip {
        let why = why_not.unwrap_or_else(|| "web/dist is missing or stale".into());
        println!("cargo:warning=web console not built ({why}); vigil serve shows how to build it (cd web && npm ci && npm run build)");
    }
    let mut code = String::from("/// The console's files: (URL path, bytes).\npub static CONSOLE_FILES: &[(&str, &[u8])] = &[\n");
    for f in &files {
        let rel = f.strip_prefix(&dist).expect("listed under dist").to_string_lossy().replace('\\', "/");
        code.push_str(&format!("    ({:?}, include_bytes!({:?})),\n", format!("/{rel}"), f.display().to_string()));
    }
    code.push_str("];\n");
    std::fs::write(&out, code).expect("write console_assets.rs into OUT_DIR");
}

/// dist is stale when its index.html is missing or older than any console source.
fn is_stale(web: &Path, dist: &Path) -> bool {
    let Some(built) = modified(&dist.join("index.html")) else { return true };
    let mut sources = list(&web.join("src"));
    sources.extend(["index.html", "package-lock.json", "vite.config.ts"].map(|f| web.join(f)));
    sources.iter().filter_map(|f| modified(f)).any(|t| t > built)
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Every file under `dir`, sorted.
fn list(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(list(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn npm_build(web: &Path) -> Result<(), String> {
    // VIGIL_NPM names another npm (a test of the no-npm path sets one that does not exist).
    let npm_program = std::env::var_os("VIGIL_NPM").unwrap_or_else(|| "npm".into());
    let npm = |args: &[&str]| -> Result<(), String> {
        // Output captured: a build script's stdout is cargo's instructions.
        let out = Command::new(&npm_program).args(args).current_dir(web).output().map_err(|e| format!("npm not runnable: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let tail: Vec<&str> = text.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!("npm {} failed ({}): {}", args.join(" "), out.status, tail.join(" | ")))
    };
    if !web.join("node_modules/.bin/vite").exists() {
        npm(&["ci", "--no-audit", "--no-fund"])?;
    }
    npm(&["run", "build"])
}
