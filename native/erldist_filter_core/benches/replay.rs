//! Replay the captured corpora (`../shared/corpus`) through `Channel::recv`
//! with the recorded socket read boundaries (`NAME.chunks`).
//!
//! - `small*`: ns per packet (throughput in elements = packets).
//! - `large*`: MB/s (throughput in bytes).
//!
//! Each corpus runs with `Config::default()` and with
//! `deep_packet_inspection: true`.
//!
//! Run: `cargo bench -p erldist_filter_core --bench replay`.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use erldist_filter_core::{Actions, Budget, Channel, ChannelOptions, Config, Limits, PacketSize, RecvContext};

fn shared_dir() -> PathBuf {
    std::env::var_os("EDF_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

struct Corpus {
    name: &'static str,
    bin: Vec<u8>,
    chunks: Vec<usize>,
    packets: u64,
    dflags: u64,
}

fn meta_int(meta: &str, key: &str) -> u64 {
    let pat = format!("{{{key},");
    let i = meta.find(&pat).unwrap_or_else(|| panic!("no {key} in meta"));
    meta[i + pat.len()..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().expect("integer")
}

fn load(name: &'static str) -> Corpus {
    let dir = shared_dir().join("corpus");
    let read = |ext: &str| {
        let p = dir.join(format!("{name}.{ext}"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("corpus file {}: {e}", p.display()))
    };
    let bin = read("bin");
    let chunks: Vec<usize> =
        read("chunks").chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    assert_eq!(chunks.iter().sum::<usize>(), bin.len(), "{name}: chunks add up");
    let meta = String::from_utf8(read("meta")).expect("meta text");
    // count packets (ticks included) from the stream itself
    let mut packets = 0;
    let mut at = 0;
    while at < bin.len() {
        let len = u32::from_be_bytes([bin[at], bin[at + 1], bin[at + 2], bin[at + 3]]) as usize;
        at += 4 + len;
        packets += 1;
    }
    Corpus { name, bin, chunks, packets, dflags: meta_int(&meta, "negotiated_flags") }
}

/// One full replay; returns the number of emitted frames.
fn replay(c: &Corpus, cfg: &Config, actions: &mut Actions) -> usize {
    let opts = ChannelOptions { packet_size: PacketSize::Four, dflags: c.dflags, limits: Limits::default() };
    let mut ch = Channel::new(opts);
    let mut emitted = 0;
    let mut at = 0;
    for &n in &c.chunks {
        let mut rest = &c.bin[at..at + n];
        at += n;
        while !rest.is_empty() {
            actions.clear();
            let used =
                ch.recv(rest, &RecvContext::new(cfg), &mut Budget::new(u64::MAX), actions).expect("corpus decodes");
            emitted += actions.emits.len();
            rest = &rest[used..];
        }
    }
    emitted
}

fn bench_replay(cr: &mut Criterion) {
    let configs =
        [("default", Config::default()), ("dpi", Config { deep_packet_inspection: true, ..Config::default() })];
    for name in ["small", "small.rev", "large", "large.rev"] {
        let c = load(name);
        let mut group = cr.benchmark_group(format!("replay/{}", c.name));
        group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
        if name.starts_with("small") {
            group.throughput(Throughput::Elements(c.packets));
        } else {
            group.throughput(Throughput::Bytes(c.bin.len() as u64));
        }
        for (label, cfg) in &configs {
            let mut actions = Actions::default();
            group.bench_function(*label, |b| b.iter(|| black_box(replay(&c, cfg, &mut actions))));
        }
        group.finish();
    }
}

criterion_group!(benches, bench_replay);
criterion_main!(benches);
