//! Replay a corpus file through one channel, for profiling:
//! `cargo run --release --example replay -- small [dpi|nodpi|safe] [guard]`
//! (`valgrind --tool=callgrind --toggle-collect='replay::replay' target/release/examples/replay small dpi`).
//! `safe` turns on the switches of `{safe_policy, true}`. `guard` turns the atom-table guard on (every atom exists, so nothing is
//! dropped: what is measured is the cost of checking). A fourth argument
//! `protect:Creation` protects 501 pids of the receiving node `b@127.0.0.1`
//! of that creation (1789211368 for small.bin), none of them a target of
//! the corpus, so every send to `b` pays the full protected-pid lookup.

use std::path::PathBuf;

use erldist_filter_core::AtomExistence;
use std::sync::Arc;

use erldist_filter_core::{
    Actions, Atom, Budget, Channel, ChannelOptions, Config, Limits, PacketSize, Protected, RecvContext,
};

/// A node where every atom exists.
struct AllAtomsExist;

impl AtomExistence for AllAtomsExist {
    fn exists(&self, _text: &[u8], _utf8: bool) -> bool {
        true
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "small".into());
    let mode = args.next();
    let safe = mode.as_deref() == Some("safe");
    let dpi = safe || mode.as_deref() == Some("dpi");
    let guard = args.next().as_deref() == Some("guard");
    let protect = args.next().and_then(|a| a.strip_prefix("protect:").and_then(|c| c.parse::<u32>().ok()));
    let dir = std::env::var_os("EDF_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
        .join("corpus");
    let read = |ext: &str| std::fs::read(dir.join(format!("{name}.{ext}"))).unwrap_or_default();
    let (bin, chunks, meta) = (read("bin"), read("chunks"), String::from_utf8(read("meta")).unwrap_or_default());
    let flags_at = meta.find("{negotiated_flags,").map_or(0, |i| i + 18);
    let dflags: u64 =
        meta[flags_at..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().unwrap_or(0);
    let cfg = if safe {
        // The switches `{safe_policy, true}' turns on (erldist_filter_env:safe_settings/0).
        Config {
            compact_fragments: true,
            deep_packet_inspection: true,
            logging: true,
            otp_name_blocklist: true,
            redirect_dist_operations: true,
            ..Config::default()
        }
    } else {
        Config { deep_packet_inspection: dpi, ..Config::default() }
    };
    let (emits, packets) = replay(&bin, &chunks, dflags, cfg, guard, protect);
    println!("{name} dpi={dpi} guard={guard}: {emits} frames, {packets} packets");
}

/// The replay itself, apart from reading the files, so that callgrind can
/// count it alone (`--toggle-collect='replay::replay'`, as `bench/run` does).
#[inline(never)]
fn replay(bin: &[u8], chunks: &[u8], dflags: u64, cfg: Config, guard: bool, protect: Option<u32>) -> (usize, u64) {
    let limits = Limits { max_new_atoms: if guard { u64::MAX } else { 0 }, ..Limits::default() };
    let mut ch = Channel::new(ChannelOptions { packet_size: PacketSize::Four, dflags, limits });
    if let Some(creation) = protect {
        let mut p = Protected::new(Atom::from_utf8(b"b@127.0.0.1").unwrap_or_default(), creation);
        for id in 100_000..=100_500 {
            p.insert(id, 0, None);
        }
        ch.set_protected(Arc::new(p));
    }
    let mut out = Actions::default();
    let (mut at, mut emits) = (0usize, 0usize);
    for c in chunks.chunks_exact(4) {
        let n = u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize;
        let mut rest = &bin[at..at + n];
        at += n;
        while !rest.is_empty() {
            out.clear();
            let used = ch
                .recv(
                    rest,
                    &RecvContext::new(&cfg).checking_atoms(&AllAtomsExist),
                    &mut Budget::new(u64::MAX),
                    &mut out,
                )
                .expect("corpus decodes");
            emits += out.emits.len();
            rest = &rest[used..];
        }
    }
    (emits, ch.stats().snapshot().packet_count)
}
