//! Replay real captured distribution traffic (`../shared/corpus`) through a
//! channel: every frame must come out byte-identical, in order, however the
//! stream is cut, and the counters must match the corpus's own summary.

mod common;

use common::{feed, Corpus, Rng};
use erldist_filter_core::{Channel, Config};

fn replay(c: &Corpus, pieces: &[&[u8]], budget: u64) -> Channel {
    let mut ch = Channel::new(c.options());
    let frames = feed(&mut ch, &Config::default(), pieces, budget);
    let expected = c.frames();
    assert_eq!(frames.len(), expected.len(), "{}: frame count", c.name);
    for (i, (got, want)) in frames.iter().zip(expected.iter()).enumerate() {
        assert!(got.as_slice() == *want, "{}: frame {i} differs", c.name);
    }
    assert_eq!(ch.buffered_bytes(), 0);
    assert_eq!(ch.open_sequences(), 0);
    ch
}

fn recorded_chunks(c: &Corpus) -> Vec<&[u8]> {
    let mut out = vec![];
    let mut at = 0;
    for &n in &c.chunks {
        out.push(&c.bin[at..at + n]);
        at += n;
    }
    assert_eq!(at, c.bin.len(), "{}: chunks add up to the stream", c.name);
    out
}

#[test]
fn recorded_read_boundaries_emit_every_frame_unchanged_and_count_as_the_corpus_says() {
    for c in Corpus::all() {
        let ch = replay(&c, &recorded_chunks(&c), u64::MAX);
        let s = ch.stats().snapshot();
        assert_eq!(s.packet_count, c.meta_int("packets"), "{} packets", c.name);
        assert_eq!(s.dist_tick_count, c.meta_int("ticks"), "{} ticks", c.name);
        assert_eq!(s.dist_header_count, c.meta_int("dist_header"), "{} headers", c.name);
        assert_eq!(s.dist_frag_header_count, c.meta_int("dist_frag_header"), "{} frag headers", c.name);
        assert_eq!(s.dist_frag_cont_count, c.meta_int("dist_frag_cont"), "{} frag conts", c.name);
        assert_eq!(s.emit_count, c.frames().len() as u64, "{} emits", c.name);
        assert_eq!(s.bytes_in, c.bin.len() as u64);
        let rows: Vec<_> = s.dop_rows().collect();
        for (name, want) in c.meta_dops() {
            let (_, got) = rows.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("dop {name}"));
            assert_eq!(got[0], want, "{}: dop {name} seen", c.name);
            assert_eq!(got[1], want, "{}: dop {name} emit", c.name);
        }
        let total_seen: u64 = rows.iter().map(|(_, r)| r[0]).sum();
        assert_eq!(total_seen, c.meta_int("messages"), "{} messages", c.name);
        assert!(s.atom_cache_write_count > 0 && s.atom_cache_read_count > 0);
    }
}

#[test]
fn one_packet_per_call_gives_the_same_frames() {
    for c in Corpus::all() {
        replay(&c, &c.packets(), u64::MAX);
    }
}

#[test]
fn random_cuts_and_tiny_budgets_give_the_same_frames() {
    let mut rng = Rng(0x5eed_1234);
    for c in Corpus::all() {
        let mut pieces = vec![];
        let mut at = 0;
        while at < c.bin.len() {
            // mostly small cuts (odd byte positions inside prefixes and
            // headers), sometimes large ones
            let n = if rng.below(8) == 0 { rng.below(200_000) } else { rng.below(97) } as usize + 1;
            let end = (at + n).min(c.bin.len());
            pieces.push(&c.bin[at..end]);
            at = end;
        }
        replay(&c, &pieces, 1 + rng.below(5000));
    }
}
