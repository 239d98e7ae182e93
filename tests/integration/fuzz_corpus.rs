//! The fuzz corpus on stable Rust, in every test run: each committed input
//! of `fuzz/corpus/TARGET/` and every crash ever found (`fuzz/regressions/TARGET/`,
//! kept forever) goes through its `stead::fuzz` entry point, and so do a
//! few thousand cheap mutations of each (a fixed seed: the same inputs every
//! run). An entry point panicking fails the test with the input's name.
//! The coverage-guided search itself is `scripts/fuzz-smoke` (nightly).

use std::path::{Path, PathBuf};

const MUTATIONS: usize = 300;

fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(PathBuf, Vec<u8>)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter_map(|p| Some((p.clone(), std::fs::read(&p).ok()?)))
        .collect();
    out.sort();
    out
}

/// xorshift64: mutations that are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation: flip, insert, delete, duplicate a slice, or splice in a
/// byte that parsers care about.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    const INTERESTING: &[u8] = b"\n\0:{}[]-#%'\"\\|>&*!\t ";
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if at < v.len() => {
                let end = (at + 1 + rng.below(16)).min(v.len());
                v.drain(at..end);
            }
            3 if at < v.len() => {
                let end = (at + 1 + rng.below(32)).min(v.len());
                let slice = v[at..end].to_vec();
                v.splice(at..at, slice);
            }
            _ => v.insert(at, rng.next() as u8),
        }
    }
    v
}

#[test]
fn every_corpus_input_and_every_past_crash_passes_its_entry_point_and_so_do_their_mutations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut rng = Rng(0x5eed_5eed_5eed_5eed);
    for (name, target) in stead::fuzz::TARGETS {
        let corpus = inputs(&root.join("corpus").join(name));
        assert!(!corpus.is_empty(), "fuzz/corpus/{name} has no seed inputs");
        let regressions = inputs(&root.join("regressions").join(name));
        for (path, data) in corpus.iter().chain(&regressions) {
            let run = std::panic::catch_unwind(|| target(data));
            assert!(run.is_ok(), "stead::fuzz::{name} panicked on {}", path.display());
        }
        for i in 0..MUTATIONS {
            let (path, seed) = &corpus[i % corpus.len()];
            let data = mutate(&mut rng, seed);
            let run = std::panic::catch_unwind(|| target(&data));
            assert!(run.is_ok(), "stead::fuzz::{name} panicked on mutation {i} of {}: {data:?}", path.display());
        }
    }
}
