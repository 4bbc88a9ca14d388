//! Replay the real corpus with deep packet inspection on: every message of
//! real OTP traffic must decode and classify, and what passes unchanged
//! must still be byte-identical.

mod common;

use common::{feed, Corpus};
use erldist_filter_core::{Channel, Config};

fn dpi(compact: bool, redirect: bool) -> Config {
    Config {
        deep_packet_inspection: true,
        compact_fragments: compact,
        redirect_dist_operations: redirect,
        logging: true,
        ..Config::default()
    }
}

#[test]
fn real_traffic_decodes_and_classifies_with_inspection_on() {
    for c in Corpus::all() {
        for cfg in [dpi(false, false), dpi(true, true)] {
            let mut ch = Channel::new(c.options());
            let frames = feed(&mut ch, &cfg, &c.packets(), u64::MAX);
            let s = ch.stats().snapshot();
            let seen: u64 = s.dop_rows().map(|(_, r)| r[0]).sum();
            assert_eq!(seen, c.meta_int("messages"), "{}: every message inspected", c.name);
            let rows: Vec<_> = s.dop_rows().collect();
            let get = |name: &str| rows.iter().find(|(n, _)| *n == name).map(|(_, r)| *r).unwrap();
            // Links and link exits are always dropped; spawn requests always redirected.
            assert_eq!(get("link")[2], get("link")[0], "{}", c.name);
            assert_eq!(get("payload_exit")[2], get("payload_exit")[0], "{}", c.name);
            assert_eq!(get("spawn_request")[3], get("spawn_request")[0], "{}", c.name);
            // Replies and monitors pass untouched in trusted mode.
            for quiet in ["monitor_p", "demonitor_p", "spawn_reply", "unlink_id", "unlink_id_ack"] {
                assert_eq!(get(quiet)[1], get(quiet)[0], "{} {quiet} emitted", c.name);
            }
            assert_eq!(ch.buffered_bytes(), 0);
            assert_eq!(ch.open_sequences(), 0);
            eprintln!(
                "{} compact={}: {} frames out, drops {}, redirects {}, logs {}, header rewrites {}, rollbacks {}",
                c.name,
                cfg.compact_fragments,
                frames.len(),
                s.drop_count,
                s.redirect_count,
                s.log_count,
                s.rewrite_fragment_header_count,
                s.rollback_atom_cache_count
            );
        }
    }
}

#[test]
fn inspection_off_is_byte_identical_even_with_compaction_off() {
    let c = Corpus::load("large");
    let mut ch = Channel::new(c.options());
    let frames = feed(&mut ch, &Config::default(), &c.packets(), u64::MAX);
    let want: Vec<&[u8]> = c.frames();
    assert_eq!(frames.len(), want.len());
    assert!(frames.iter().zip(want).all(|(a, b)| a.as_slice() == b));
}
