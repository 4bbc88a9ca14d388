//! Write seed inputs for every fuzz target from the captured corpus
//! (`../shared/corpus`, or `$EDF_SHARED/corpus`) into `fuzz/corpus/<target>/`
//! (generated at run time, .gitignored). With `--check`, also run every seed
//! through its target's checks (no fuzzer needed).
//!
//! `cargo run --release --example make_seeds -- [OUT_DIR] [--check]`

use std::path::PathBuf;

use erldist_filter_core::term::{skip_term, ScanContext};
use erldist_filter_core_fuzz::{
    check_channel, check_header, check_term_decode, check_term_scan, check_term_view, ChannelInput, TermInput,
};

/// Largest seed written (libFuzzer's -max_len defaults to the largest seed).
const MAX_SEED: usize = 70 * 1024;

fn shared_dir() -> PathBuf {
    std::env::var_os("EDF_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared"))
}

/// The 4-byte-prefixed packets of a corpus stream (prefix included).
fn packets(bin: &[u8]) -> Vec<&[u8]> {
    let mut out = vec![];
    let mut at = 0;
    while at + 4 <= bin.len() {
        let len = u32::from_be_bytes([bin[at], bin[at + 1], bin[at + 2], bin[at + 3]]) as usize;
        out.push(&bin[at..at + 4 + len]);
        at += 4 + len;
    }
    out
}

/// The reference count and the body (control, then payload) of a 'D' frame.
fn body_of(frame: &[u8]) -> Option<(u8, &[u8])> {
    if frame.get(..2)? != [131, b'D'] {
        return None;
    }
    let count = *frame.get(2)?;
    let mut at = 3;
    if count > 0 {
        let flags = frame.get(at..at + usize::from(count) / 2 + 1)?;
        let nib = |i: usize| if i % 2 == 0 { flags[i / 2] & 15 } else { flags[i / 2] >> 4 };
        let long = nib(usize::from(count)) & 1 != 0;
        at += flags.len();
        for i in 0..usize::from(count) {
            at += 1;
            if nib(i) & 8 != 0 {
                let len = if long {
                    usize::from(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?])) + 2
                } else {
                    usize::from(*frame.get(at)?) + 1
                };
                at += len;
            }
        }
    }
    Some((count, frame.get(at..)?))
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let out = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let mut seeds: Vec<(&str, Vec<u8>)> = vec![];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for name in ["small", "small.rev", "large", "large.rev"] {
        let path = shared_dir().join("corpus").join(format!("{name}.bin"));
        let bin = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let ps = packets(&bin);
        // windows from the start of the stream (atom cache built up in
        // order), in every packet size, reframed
        let mut at = 0;
        for (i, n) in [1usize, 2, 3, 5, 8, 13, 21, 34].into_iter().enumerate() {
            let window: Vec<u8> = ps.iter().take(n).flat_map(|p| p.iter().copied()).collect();
            if window.len() > MAX_SEED {
                break;
            }
            let mode = (i % 5) as u8 | 8 | if i % 3 == 0 { 0 } else { 3 << 6 };
            let cuts: Vec<u8> = (0..(i * 3) % 31).map(|_| rng.below(256) as u8).collect();
            seeds.push(("channel_recv", ChannelInput::encode(mode, if i % 2 == 0 { 255 } else { 40 }, (i * 37) as u8, &cuts, &window)));
            // raw (not reframed) with packet size 4: the corpus as is
            seeds.push(("channel_recv", ChannelInput::encode(0, 255, 0, &[3, 0, 17], &window)));
            seeds.push(("channel_recv", ChannelInput::encode(0, 255, 1, &[3, 0, 17], &window)));
            at = n;
        }
        // single packets from anywhere (their cache references may be
        // empty slots: errors are interesting too), and their headers
        for _ in 0..24 {
            let k = at + rng.below(ps.len() - at);
            let p = ps[k];
            if p.len() > MAX_SEED {
                continue;
            }
            let mode = (rng.below(5) as u8) | 8 | ((rng.below(4) as u8) << 6);
            seeds.push(("channel_recv", ChannelInput::encode(mode, rng.below(256) as u8, rng.below(64) as u8, &[], p)));
            let frame = &p[4..];
            let head = &frame[..frame.len().min(1024)];
            let mut h = vec![rng.below(4) as u8, head.len().min(255) as u8];
            h.extend_from_slice(&head[..head.len().min(255)]);
            h.extend_from_slice(&ps[(k + 1) % ps.len()][4..].iter().copied().take(512).collect::<Vec<u8>>());
            seeds.push(("header", h));
        }
        // control messages and payloads of 'D' frames, for the term targets
        let mut terms = 0;
        for p in ps.iter().step_by(7) {
            let Some((count, body)) = body_of(&p[4..]) else { continue };
            if body.len() > MAX_SEED || terms >= 40 {
                continue;
            }
            terms += 1;
            let ctx = ScanContext::internal(count);
            let mut end = 0;
            let budget = rng.below(16) as u8;
            let control = TermInput::encode(count, budget, body);
            for t in ["term_scan", "term_decode", "term_view"] {
                seeds.push((t, control.clone()));
            }
            if skip_term(body, &mut end, &ctx).is_ok() && end < body.len() {
                let payload = TermInput::encode(count, budget, &body[end..]);
                for t in ["term_scan", "term_decode", "term_view"] {
                    seeds.push((t, payload.clone()));
                }
            }
        }
        // the first two frames' headers as a header seed (the second one
        // reads what the first wrote)
        let f0 = &ps[0][4..];
        let f1 = &ps[1][4..];
        if f0.len() < 256 {
            let mut h = vec![0u8, f0.len() as u8];
            h.extend_from_slice(f0);
            h.extend_from_slice(&f1[..f1.len().min(1024)]);
            seeds.push(("header", h));
        }
    }
    let mut counts = std::collections::BTreeMap::new();
    for (target, bytes) in &seeds {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).expect("seed dir");
        let n = counts.entry(*target).or_insert(0usize);
        std::fs::write(dir.join(format!("seed-{n:04}")), bytes).expect("write seed");
        *n += 1;
        if check {
            match *target {
                "channel_recv" => check_channel(bytes),
                "header" => check_header(bytes),
                "term_scan" => check_term_scan(bytes),
                "term_decode" => check_term_decode(bytes),
                "term_view" => check_term_view(bytes),
                _ => unreachable!(),
            }
        }
    }
    for (target, n) in counts {
        println!("{target}: {n} seeds in {}", out.join(target).display());
    }
}
