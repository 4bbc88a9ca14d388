//! Inputs built to hurt: a million levels of nesting, declared sizes of
//! 2^32 - 1 over a few bytes, cache references beyond the table. Each must
//! end in a prompt error (or success) without a stack overflow or a large
//! allocation.

use std::time::{Duration, Instant};

use erldist_filter_core::term::{decode, skip_term, NoAtoms, Scan, ScanContext, Scanner, Term, Viewer};
use erldist_filter_core::Budget;
use erldist_filter_core::ErrorKind;

const DEEP: usize = 1_000_000;

/// `{{{...[]...}}}`, `depth` tuples deep.
fn deep_tuple(depth: usize) -> Vec<u8> {
    [[104, 1].repeat(depth), vec![106]].concat()
}

/// `[[[...[] ...]]]` as LIST_EXT of one element each, `depth` deep: all the
/// heads first, then every tail.
fn deep_list(depth: usize) -> Vec<u8> {
    [[108, 0, 0, 0, 1].repeat(depth), vec![106; depth + 1]].concat()
}

/// `#{#{#{... => []} => []} => []}`: nesting through map keys.
fn deep_map(depth: usize) -> Vec<u8> {
    [[116, 0, 0, 0, 1].repeat(depth), vec![106; depth + 1]].concat()
}

fn scan_in_slices(bytes: &[u8], units: u64) -> (usize, usize) {
    let mut s = Scanner::new();
    let mut pos = 0;
    let mut calls = 0;
    loop {
        calls += 1;
        let mut b = Budget::new(units);
        match s.run(bytes, &mut pos, &mut b, &ScanContext::external()) {
            Ok(Scan::Done) => return (pos, calls),
            Ok(Scan::Yield) => {}
            Err(e) => panic!("scan failed: {e:?}"),
        }
    }
}

#[test]
fn million_deep_terms_scan_without_recursion() {
    for bytes in [deep_tuple(DEEP), deep_list(DEEP), deep_map(DEEP)] {
        let mut pos = 0;
        skip_term(&bytes, &mut pos, &ScanContext::external()).unwrap();
        assert_eq!(pos, bytes.len());
    }
    let bytes = deep_tuple(DEEP);
    let (end, calls) = scan_in_slices(&bytes, 20_000);
    assert_eq!(end, bytes.len());
    assert!(calls >= 50, "a deep term takes many slices, took {calls}");
    let v = Viewer::new(&bytes, ScanContext::external(), &NoAtoms);
    assert_eq!(v.end_of(2).unwrap(), bytes.len());
}

#[test]
fn million_deep_terms_are_too_deep_for_the_decoder() {
    for bytes in [deep_tuple(DEEP), deep_list(DEEP), deep_map(DEEP)] {
        let mut pos = 0;
        let e = decode(&bytes, &mut pos, &ScanContext::external(), &NoAtoms).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooDeep);
        assert_eq!(pos, 0, "position unchanged on error");
    }
}

#[test]
fn decoder_depth_limit_is_exact() {
    let ctx = ScanContext::external();
    let depth = ctx.max_depth as usize;
    // The leaf sits at depth max_depth + 1; only compounds count.
    let ok = deep_tuple(depth);
    let mut pos = 0;
    let t = decode(&ok, &mut pos, &ctx, &NoAtoms).unwrap();
    assert_eq!(pos, ok.len());
    let mut levels = 0;
    let mut cur = &t;
    while let Term::Tuple(items) = cur {
        levels += 1;
        cur = &items[0];
    }
    assert_eq!(levels, depth);
    drop(t);
    let too_deep = deep_tuple(depth + 1);
    let mut pos = 0;
    let e = decode(&too_deep, &mut pos, &ctx, &NoAtoms).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooDeep);
    // A caller may raise the limit.
    let roomy = ScanContext { max_depth: depth as u32 + 1, ..ctx };
    let mut pos = 0;
    decode(&too_deep, &mut pos, &roomy, &NoAtoms).unwrap();
}

#[test]
fn declared_sizes_beyond_the_input_fail_fast() {
    let heads: [&[u8]; 9] = [
        &[105, 0xFF, 0xFF, 0xFF, 0xFF],                               // LARGE_TUPLE
        &[108, 0xFF, 0xFF, 0xFF, 0xFF],                               // LIST
        &[109, 0xFF, 0xFF, 0xFF, 0xFF],                               // BINARY
        &[77, 0xFF, 0xFF, 0xFF, 0xFF, 1],                             // BIT_BINARY
        &[111, 0xFF, 0xFF, 0xFF, 0xFF, 0],                            // LARGE_BIG
        &[116, 0x7F, 0xFF, 0xFF, 0xFF],                               // MAP
        &[67, 0x7F, 0xFF, 0xFF, 0xFF, 0, 119, 1, b'm', 119, 1, b'r'], // RECORD
        &[112, 0xFF, 0xFF, 0xFF, 0xFF],                               // NEW_FUN size
        &[90, 0xFF, 0xFF],                                            // NEWER_REFERENCE count
    ];
    // A megabyte of plausible content after the head: still far too short.
    let filler = vec![106u8; 1 << 20];
    for head in heads {
        let bytes = [head, &filler].concat();
        let start = Instant::now();
        let mut pos = 0;
        let s = skip_term(&bytes, &mut pos, &ScanContext::external()).unwrap_err();
        let mut pos = 0;
        let d = decode(&bytes, &mut pos, &ScanContext::external(), &NoAtoms).unwrap_err();
        assert!(matches!(s.kind, ErrorKind::Truncated | ErrorKind::MalformedTerm), "{head:?}: {s:?}");
        assert_eq!(s.kind, d.kind, "{head:?}");
        // Fails at the head, not after walking the filler.
        assert!(s.offset <= head.len(), "{head:?}: failed late at {}", s.offset);
        assert!(start.elapsed() < Duration::from_secs(1), "{head:?}: slow");
    }
}

#[test]
fn a_million_element_list_with_a_lying_count() {
    // Declares 2^32 - 1 elements, holds 10^6 and no tail.
    let mut bytes = vec![108, 0xFF, 0xFF, 0xFF, 0xFF];
    bytes.resize(bytes.len() + DEEP, 106);
    let mut pos = 0;
    let e = skip_term(&bytes, &mut pos, &ScanContext::external()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Truncated);
    // Declares one more element than it holds.
    let mut bytes = vec![108];
    bytes.extend((DEEP as u32 + 1).to_be_bytes());
    bytes.resize(bytes.len() + DEEP, 106);
    bytes.push(106);
    let mut pos = 0;
    assert!(skip_term(&bytes, &mut pos, &ScanContext::external()).is_err());
    let mut pos = 0;
    assert!(decode(&bytes, &mut pos, &ScanContext::external(), &NoAtoms).is_err());
}

#[test]
fn wide_valid_terms_decode() {
    // 10^5 elements: allocation proportional to the input, and it works.
    let n = 100_000u32;
    let mut bytes = vec![105];
    bytes.extend(n.to_be_bytes());
    bytes.resize(bytes.len() + n as usize, 106);
    let mut pos = 0;
    let t = decode(&bytes, &mut pos, &ScanContext::external(), &NoAtoms).unwrap();
    assert!(matches!(&t, Term::Tuple(items) if items.len() == n as usize));
}

#[test]
fn cache_refs_beyond_the_table() {
    for (refs, index) in [(0u8, 0u8), (1, 1), (10, 200), (255, 255)] {
        let bytes = [104, 2, 106, 82, index];
        let ctx = ScanContext::internal(refs);
        let mut pos = 0;
        let e = skip_term(&bytes, &mut pos, &ctx).unwrap_err();
        assert_eq!((e.kind, e.offset), (ErrorKind::AtomCacheRefOutOfRange, 3));
        let mut pos = 0;
        let e = decode(&bytes, &mut pos, &ctx, &NoAtoms).unwrap_err();
        assert_eq!(e.kind, ErrorKind::AtomCacheRefOutOfRange);
        let v = Viewer::new(&bytes, ctx, &NoAtoms);
        assert!(v.view(3).is_err());
    }
}

/// Terms skipped by their length are charged once per run, never less than
/// term by term (a unit each plus one per 64 bytes): a slice of `units`
/// skips no more terms than charging each term would pay for, the last
/// one taking the budget past zero (`units` small integers; binaries of
/// 640 bytes cost 11 units each), and each call makes progress.
#[test]
fn runs_of_flat_terms_stay_within_the_budget_of_a_slice() {
    let n = 10_000usize;
    let ints: Vec<u8> = [vec![108], (n as u32).to_be_bytes().to_vec(), [97, 7].repeat(n), vec![106]].concat();
    let bin = [vec![109], 640u32.to_be_bytes().to_vec(), vec![0; 640]].concat();
    let bins: Vec<u8> = [vec![108], (n as u32).to_be_bytes().to_vec(), bin.repeat(n), vec![106]].concat();
    for units in [1u64, 2, 7, 64, 100, 1000, 65_000] {
        for (bytes, per_term, term_len) in [(&ints, 1u64, 2usize), (&bins, 11, bin.len())] {
            let mut s = Scanner::new();
            let mut pos = 0;
            loop {
                let before = pos;
                let mut b = Budget::new(units);
                let r = s.run(bytes, &mut pos, &mut b, &ScanContext::external()).unwrap();
                assert!(pos > before, "no progress");
                // the list head (5 bytes) may share the first slice
                let terms = ((pos - before).saturating_sub(5) / term_len) as u64;
                assert!(terms <= units.div_ceil(per_term), "{units} units skipped {terms} terms of {term_len} bytes");
                if r == Scan::Done {
                    break;
                }
                assert!(b.exhausted(), "yielded with {} units left", b.remaining());
            }
            assert_eq!(pos, bytes.len());
        }
    }
}
