//! The `stead` binary: parse arguments, call the library, map the outcome to
//! the exit status of CONTRACT §2. Everything else lives in the library.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
