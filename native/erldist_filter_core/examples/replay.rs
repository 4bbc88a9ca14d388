//! Replay a corpus file through one channel, for profiling:
//! `cargo run --release --example replay -- small [dpi]`
//! (`valgrind --tool=callgrind target/release/examples/replay small dpi`).

use std::path::PathBuf;

use erldist_filter_core::{Actions, Budget, Channel, ChannelOptions, Config, Limits, PacketSize};

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "small".into());
    let dpi = args.next().as_deref() == Some("dpi");
    let dir = std::env::var_os("EDF_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
        .join("corpus");
    let read = |ext: &str| std::fs::read(dir.join(format!("{name}.{ext}"))).unwrap_or_default();
    let (bin, chunks, meta) = (read("bin"), read("chunks"), String::from_utf8(read("meta")).unwrap_or_default());
    let flags_at = meta.find("{negotiated_flags,").map_or(0, |i| i + 18);
    let dflags: u64 = meta[flags_at..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().unwrap_or(0);
    let cfg = Config { deep_packet_inspection: dpi, ..Config::default() };
    let mut ch = Channel::new(ChannelOptions { packet_size: PacketSize::Four, dflags, limits: Limits::default() });
    let mut out = Actions::default();
    let (mut at, mut emits) = (0usize, 0usize);
    for c in chunks.chunks_exact(4) {
        let n = u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize;
        let mut rest = &bin[at..at + n];
        at += n;
        while !rest.is_empty() {
            out.clear();
            let used = ch.recv(rest, &cfg, &mut Budget::new(u64::MAX), &mut out).expect("corpus decodes");
            emits += out.emits.len();
            rest = &rest[used..];
        }
    }
    println!("{name} dpi={dpi}: {emits} frames, {} packets", ch.stats().snapshot().packet_count);
}
