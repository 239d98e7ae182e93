//! Tests on Tier-B hosts (CONTRACT §7): root only, each test on hosts of
//! its own, checking the hosts' real state (packages, users, kernel
//! settings of their namespaces) after running the real `stead` binary.

mod isolation;
