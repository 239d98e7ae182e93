//! Exit status of a run, as published in CONTRACT §2: a bit set.

/// Everything went fine (and, with `--detailed-exitcode`, nothing changed).
pub const OK: i32 = 0;
/// Stopped before contacting any host: usage, playbook, inventory or template error.
pub const INPUT_ERROR: i32 = 1;
/// With `--detailed-exitcode`: something changed, or would change in check mode.
pub const CHANGED: i32 = 2;
/// At least one task failed on at least one host.
pub const FAILED: i32 = 4;
/// At least one host was unreachable.
pub const UNREACHABLE: i32 = 8;
/// Interrupted by SIGINT, after in-flight work stopped cleanly.
pub const INTERRUPTED: i32 = 130;
/// Terminated by SIGTERM, after in-flight work stopped cleanly.
pub const TERMINATED: i32 = 143;

/// Combines the outcome of a run into its exit status.
pub fn status(changed: bool, failed: bool, unreachable: bool, detailed: bool) -> i32 {
    let mut code = OK;
    if detailed && changed {
        code |= CHANGED;
    }
    if failed {
        code |= FAILED;
    }
    if unreachable {
        code |= UNREACHABLE;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_combine() {
        assert_eq!(status(true, true, false, true), 6);
        assert_eq!(status(true, false, false, false), 0);
        assert_eq!(status(false, false, true, false), 8);
    }
}
