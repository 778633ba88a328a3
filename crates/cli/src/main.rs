//! `vigil`: run Splunk ESCU detections over raw endpoint telemetry, without Splunk.

mod alerts;
mod commands;
mod correlation;
mod fire;
mod output;
mod progress;
mod select;
mod sigma;
mod sigma_schedule;
mod store_input;
mod testing;
mod window;

use clap::{Args, Parser, Subcommand};

/// Group keys, result rows and event fields are many small allocations freed in bursts;
/// mimalloc handles that pattern far better than glibc's malloc (see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes (documented in README.md).
pub mod exit {
    /// The run completed, with or without hits.
    pub const OK: u8 = 0;
    /// Tests failed (`vigil test`).
    pub const TEST_FAILURES: u8 = 1;
    /// Bad usage, bad SPL or content that cannot be used.
    pub const USAGE: u8 = 2;
    /// Input records were skipped and `--strict` was given.
    pub const INPUT_STRICT: u8 = 3;
}

#[derive(Parser)]
#[command(name = "vigil", version, about = "Run Splunk ESCU detections over raw endpoint logs, without Splunk")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run detections (built-in, or from --content) over log files and directories.
    Hunt(commands::hunt::HuntArgs),
    /// Run an ad-hoc SPL search over log files, as typed in Splunk's search bar.
    Search(commands::search::SearchArgs),
    /// Risk by object and risk incidents from the risk index (filled by `hunt --alerts`).
    Risk(commands::risk::RiskArgs),
    /// What scheduled detections would have raised, run by run, over historical logs.
    Backtest(commands::backtest::BacktestArgs),
    /// Inspect content: which detections Vigil can run.
    #[command(subcommand)]
    Content(commands::content::ContentCommand),
    /// Test detections offline: validation (ESCU schema, macros, search, rba fields), unit
    /// (replay each test's attack data, ESCU's pass rule) and integration (notables, risk).
    Test(commands::test::TestArgs),
    /// Write a dataset with its timestamps shifted (latest event -> now or a given time), in
    /// its own format.
    Replay(commands::replay::ReplayArgs),
    /// Run as a server: receive events over Splunk's HTTP Event Collector API and keep them
    /// durably (loopback, 127.0.0.1:8088, by default).
    Serve(commands::serve::ServeArgs),
    /// Console users and API tokens of a server (`vigil user add NAME --role admin`).
    #[command(subcommand)]
    User(commands::user::UserCommand),
    /// Cluster mode on Kafka: `vigil cluster status --config vigil.toml`.
    #[command(subcommand)]
    Cluster(commands::cluster::ClusterCommand),
}

/// Where detections, macros and lookups come from.
#[derive(Args, Clone, Debug)]
pub struct ContentArgs {
    /// An ESCU-layout directory (detections/, macros/, lookups/) loaded over the built-in
    /// content; repeatable, later directories override earlier ones.
    #[arg(long = "content", value_name = "DIR")]
    pub content: Vec<PathBuf>,
    /// Sigma rules: a .yml file or a directory of them (walked recursively); repeatable.
    #[arg(long = "sigma", value_name = "PATH")]
    pub sigma: Vec<PathBuf>,
}

/// How inputs are read and results rendered.
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: output::Format,
    /// Time zone for rendered times (convert ctime, strftime), e.g. Europe/Paris. Default UTC.
    #[arg(long, value_name = "TZ", default_value = "UTC")]
    pub tz: String,
    /// Treat every input as this sourcetype instead of detecting it from content.
    #[arg(long, value_name = "SOURCETYPE")]
    pub sourcetype: Option<String>,
    /// The index the inputs are in, for searches that say `index=` (default `main`).
    #[arg(long, value_name = "NAME", default_value = "main")]
    pub index: String,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Memory for aggregation groups, join rows and waiting results, in MiB; beyond it they
    /// are written to temporary files and merged at the end (results are the same). Default:
    /// an eighth of the machine's available memory, between 32 MiB and 64 MiB.
    #[arg(long, value_name = "MIB")]
    pub memory_mb: Option<usize>,
    /// Exit with code 3 when any input record was skipped.
    #[arg(long)]
    pub strict: bool,
    /// More detail on stderr: every skipped detection, skipped-record examples.
    #[arg(long, short)]
    pub verbose: bool,
}

impl RunArgs {
    /// The engine's memory budget in bytes: `--memory-mb`, else derived from the machine (see
    /// [`default_memory_budget`]), computed once per run.
    pub fn memory_budget(&self) -> usize {
        static DERIVED: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        match self.memory_mb {
            Some(mb) => mb << 20,
            None => *DERIVED.get_or_init(|| default_memory_budget(available_memory())),
        }
    }
}

/// The budget without `--memory-mb`: an eighth of the available memory, at least 32 MiB (what
/// every earlier measurement used), at most 64 MiB. The cap keeps peak memory bounded whatever
/// the machine (up to 2 GiB, all ESCU and SigmaHQ over 200 MB of events peaked at 490 MB);
/// spilled groups and rows are compressed, so at 64 MiB all ready ESCU detections write
/// temporary files of under a tenth of the input (see docs/performance.md).
pub fn default_memory_budget(available: Option<u64>) -> usize {
    const FLOOR: u64 = 32 << 20;
    const CAP: u64 = 64 << 20;
    available.map_or(FLOOR, |a| (a / 8).clamp(FLOOR, CAP)) as usize
}

/// `MemAvailable` of /proc/meminfo in bytes (Linux); `None` elsewhere or when unreadable.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// mimalloc's option number for the purge delay (`mi_option_purge_delay` in mimalloc.h, right
/// before `mi_option_use_numa_nodes`; the Rust bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// mimalloc's option number for `mi_option_arena_eager_commit` (v3's mimalloc.h: two after
/// `mi_option_verbose`; the Rust bindings do not name it).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = libmimalloc_sys::mi_option_verbose + 2;

/// mimalloc's option number for `mi_option_allow_thp` (v3's mimalloc.h: the fourth option
/// before `_mi_option_last`; the Rust bindings do not name it).
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = libmimalloc_sys::_mi_option_last - 4;

/// mimalloc's option number for `mi_option_destroy_on_exit` (v3's mimalloc.h: two after
/// `mi_option_max_warnings`; the Rust bindings do not name it).
const MI_OPTION_DESTROY_ON_EXIT: libmimalloc_sys::mi_option_t = libmimalloc_sys::mi_option_max_warnings + 2;

/// `destroy_on_exit` above 1: mimalloc's exit handler returns at once instead of walking every
/// page of the main heap to free it, which the system does anyway as the process ends (1.4 %
/// of an all-ESCU run's CPU over 100 MB of XML, sampled with `perf`, went to that walk).
const SKIP_COLLECT_AT_EXIT: std::os::raw::c_long = 2;

/// Sets a mimalloc option unless the environment does (`MIMALLOC_<NAME>`, which mimalloc
/// reads itself), so a measurement can try another value without a rebuild.
fn default_mimalloc_option(env_name: &str, option: libmimalloc_sys::mi_option_t, value: std::os::raw::c_long) {
    if std::env::var_os(env_name).is_none() {
        // SAFETY: setting an option has no preconditions; called before any other thread.
        unsafe { libmimalloc_sys::mi_option_set(option, value) };
    }
}

/// Arenas are committed as pages are first used, not whole up front, and then purging gives
/// freed pages back (an eagerly committed arena's freed pages stayed resident): all SigmaHQ
/// rules and all ESCU over the 200 MB bench corpus peaked at 233 MB with the first arena
/// eager and 188 MB with every arena lazy (docs/performance.md). The first arena is made by
/// the runtime's first allocation, before `main`, so the option is set from the program's
/// constructors (`.init_array`; priority 101 runs before default-priority constructors).
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array.00101"]
static LAZY_ARENAS: extern "C" fn() = lazy_arenas;

#[cfg(target_os = "linux")]
extern "C" fn lazy_arenas() {
    // SAFETY: setting an option has no preconditions; constructors run on the only thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
}

/// Returns the memory freed so far to the system now, not after the purge delay: loading
/// content frees far more than it keeps (YAML trees, parsed searches, automata builders), and
/// within the delay those pages stay resident while the scan allocates fresh ones.
pub(crate) fn release_freed_memory() {
    // SAFETY: mi_collect has no preconditions; other threads' heaps are left alone.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// A batch command's purge delay (see `main`).
const BATCH_PURGE_DELAY_MS: std::os::raw::c_long = 10;

/// A long-running role's purge delay: a service frees and allocates the same memory window
/// after window (a worker's states, fetch buffers, partials), and with 10 ms it gave the
/// pages back between two fetches and had the kernel zero them again at the next
/// (docs/notes-17-trickle.md); its peak memory is not a batch run's concern.
const SERVICE_PURGE_DELAY_MS: std::os::raw::c_long = 1000;

/// How long freed memory stays with the process before going back to the system.
fn purge_delay_ms(command: &Command) -> std::os::raw::c_long {
    match command {
        Command::Serve(_) => SERVICE_PURGE_DELAY_MS,
        _ => BATCH_PURGE_DELAY_MS,
    }
}

fn main() -> ExitCode {
    #[cfg(not(target_os = "linux"))]
    default_mimalloc_option("MIMALLOC_ARENA_EAGER_COMMIT", MI_OPTION_ARENA_EAGER_COMMIT, 0);
    // Transparent huge pages made the kernel zero 2 MiB for every fresh page mimalloc touched
    // (10 % of a profile); with 4 KiB pages a 1 GB all-ESCU run took a third less system time
    // and 15 MB less peak memory, at the same speed.
    default_mimalloc_option("MIMALLOC_ALLOW_THP", MI_OPTION_ALLOW_THP, 0);
    default_mimalloc_option("MIMALLOC_DESTROY_ON_EXIT", MI_OPTION_DESTROY_ON_EXIT, SKIP_COLLECT_AT_EXIT);
    let cli = Cli::parse();
    // In batch commands, freed memory goes back to the system after 10 ms (100 ms for whole
    // arena ranges, ten times as mimalloc's arenas wait), not mimalloc v3's default of a
    // second: with all ESCU and SigmaHQ loaded, what the scan and the finishing queries freed
    // within the last second was 10-20 MB of the peak (200 MB of XML: 207 -> 192 MB at 1
    // thread, 213 -> 195 at 2), for twice the page faults and a few hundredths of a
    // system-second (docs/performance.md, "Ninth round (issue 18)"). Services keep it longer
    // (`SERVICE_PURGE_DELAY_MS`). Set once the command is known (parsing allocates little).
    default_mimalloc_option("MIMALLOC_PURGE_DELAY", MI_OPTION_PURGE_DELAY, purge_delay_ms(&cli.command));
    let code = match cli.command {
        Command::Hunt(args) => commands::hunt::run(args),
        Command::Search(args) => commands::search::run(args),
        Command::Risk(args) => commands::risk::run(args),
        Command::Backtest(args) => commands::backtest::run(args),
        Command::Content(cmd) => commands::content::run(cmd),
        Command::Test(args) => commands::test::run(args),
        Command::Replay(args) => commands::replay::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::User(cmd) => commands::user::run(cmd),
        Command::Cluster(cmd) => commands::cluster::run(cmd),
    };
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_memory_budget_is_an_eighth_between_bounds() {
        assert_eq!(default_memory_budget(None), 32 << 20);
        assert_eq!(default_memory_budget(Some(100 << 20)), 32 << 20);
        assert_eq!(default_memory_budget(Some(400 << 20)), 50 << 20);
        assert_eq!(default_memory_budget(Some(8 << 30)), 64 << 20);
        assert_eq!(default_memory_budget(Some(64 << 30)), 64 << 20);
    }

    #[test]
    fn long_running_roles_keep_freed_memory_longer_than_batch_commands() {
        let serve = Cli::parse_from(["vigil", "serve", "--role", "worker", "--config", "c.toml"]);
        assert_eq!(purge_delay_ms(&serve.command), SERVICE_PURGE_DELAY_MS);
        let hunt = Cli::parse_from(["vigil", "hunt", "x.xml"]);
        assert_eq!(purge_delay_ms(&hunt.command), BATCH_PURGE_DELAY_MS);
        const { assert!(SERVICE_PURGE_DELAY_MS >= 100 * BATCH_PURGE_DELAY_MS) };
    }

    /// The option numbers are taken from mimalloc.h by position; defaults around them show
    /// they still name the intended options (`main` has not run in a unit test).
    #[test]
    fn mimalloc_option_numbers_name_the_intended_options() {
        use libmimalloc_sys::mi_option_get;
        // SAFETY: reading an option has no preconditions.
        unsafe {
            assert_eq!(mi_option_get(MI_OPTION_PURGE_DELAY), 1000);
            assert_eq!(mi_option_get(MI_OPTION_PURGE_DELAY + 3), 100, "os_tag follows purge_delay by 3");
            assert_eq!(mi_option_get(MI_OPTION_ALLOW_THP), 1);
            // arena_eager_commit defaults to 2 (on where the system overcommits); purge_decommits,
            // right after it, to 1.
            // (Here already set to 0 by the program's constructor, `LAZY_ARENAS`.)
            #[cfg(target_os = "linux")]
            assert_eq!(mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT), 0);
            #[cfg(not(target_os = "linux"))]
            assert_eq!(mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT), 2);
            assert_eq!(mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT + 1), 1);
            // destroy_on_exit defaults to off; the deprecated max_segment_reclaim, before it,
            // to 10, and max_warnings, before that, to 32.
            assert_eq!(mi_option_get(MI_OPTION_DESTROY_ON_EXIT), 0);
            assert_eq!(mi_option_get(MI_OPTION_DESTROY_ON_EXIT - 1), 10);
            assert_eq!(mi_option_get(MI_OPTION_DESTROY_ON_EXIT - 2), 32);
            // arena_max_object_size, 2 after allow_thp: 2 GiB in KiB.
            assert_eq!(mi_option_get(MI_OPTION_ALLOW_THP + 2), 2 * 1024 * 1024);
        }
    }
}
