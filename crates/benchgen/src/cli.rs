//! The entry point both command-line tools share: parse, run, exit 2 on a usage error and 1
//! when the run fails, the message prefixed with the tool's name.

pub fn main<A, E: std::fmt::Display>(name: &str, parse: fn() -> Result<A, String>, run: fn(&A) -> Result<(), E>) {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}
