//! Shared helpers for the integration tests: the captured corpus and a
//! channel driver.

#![allow(dead_code)]

pub mod frames;

use std::path::PathBuf;

use erldist_filter_core::term::{Term, TermFlags};
use erldist_filter_core::{Actions, Budget, Channel, ChannelOptions, Config, Emit, Limits, PacketSize, RecvContext};

/// `../shared` beside the project root (or `$EDF_SHARED`).
pub fn shared_dir() -> PathBuf {
    std::env::var_os("EDF_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// One captured direction of a real connection.
pub struct Corpus {
    pub name: String,
    pub bin: Vec<u8>,
    pub chunks: Vec<usize>,
    pub meta: String,
}

impl Corpus {
    pub fn load(name: &str) -> Corpus {
        let dir = shared_dir().join("corpus");
        let read = |ext: &str| {
            let p = dir.join(format!("{name}.{ext}"));
            std::fs::read(&p).unwrap_or_else(|e| panic!("corpus file {}: {e}", p.display()))
        };
        let chunks = read("chunks").chunks(4).map(|c| u32::from_be_bytes(c.try_into().unwrap()) as usize).collect();
        Corpus { name: name.to_string(), bin: read("bin"), chunks, meta: String::from_utf8(read("meta")).unwrap() }
    }

    pub fn all() -> Vec<Corpus> {
        ["small", "small.rev", "large", "large.rev"].iter().map(|n| Corpus::load(n)).collect()
    }

    /// The integer after `key` in the meta text (`{key,N}.` or `key => N`).
    pub fn meta_int(&self, key: &str) -> u64 {
        for pat in [format!("{{{key},"), format!("{key} => ")] {
            let whole_word = |i: &usize| {
                *i == 0 || !self.meta.as_bytes()[i - 1].is_ascii_alphanumeric() && self.meta.as_bytes()[i - 1] != b'_'
            };
            if let Some(i) = self.meta.match_indices(&pat).map(|(i, _)| i).find(whole_word) {
                let digits: String = self.meta[i + pat.len()..].chars().take_while(|c| c.is_ascii_digit()).collect();
                return digits.parse().unwrap();
            }
        }
        panic!("{}: no {key} in meta", self.name)
    }

    /// The per-DOP counts of the meta summary.
    pub fn meta_dops(&self) -> Vec<(String, u64)> {
        let i = self.meta.find("dops =>").expect("dops in meta");
        let body = &self.meta[i..];
        let body = &body[body.find("#{").unwrap() + 2..body.find('}').unwrap()];
        body.split(',')
            .map(|kv| {
                let (k, v) = kv.split_once("=>").unwrap();
                (k.trim().to_string(), v.trim().parse().unwrap())
            })
            .collect()
    }

    pub fn options(&self) -> ChannelOptions {
        ChannelOptions {
            packet_size: PacketSize::Four,
            dflags: self.meta_int("negotiated_flags"),
            limits: Limits::default(),
        }
    }

    /// The frames of the stream (ticks excluded), in order.
    pub fn frames(&self) -> Vec<&[u8]> {
        let mut out = vec![];
        let mut rest = &self.bin[..];
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            if len > 0 {
                out.push(&rest[4..4 + len]);
            }
            rest = &rest[4 + len..];
        }
        out
    }

    /// The stream cut into whole packets (prefix included), one per element.
    pub fn packets(&self) -> Vec<&[u8]> {
        let mut out = vec![];
        let mut rest = &self.bin[..];
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            out.push(&rest[..4 + len]);
            rest = &rest[4 + len..];
        }
        out
    }
}

/// Feed `pieces` to `ch` (each piece one call, resumed while the budget
/// runs out) and return every emitted frame's bytes.
pub fn feed(ch: &mut Channel, cfg: &Config, pieces: &[&[u8]], budget: u64) -> Vec<Vec<u8>> {
    let mut frames = vec![];
    let mut actions = Actions::default();
    for piece in pieces {
        let mut rest: &[u8] = piece;
        loop {
            actions.clear();
            let used = ch.recv(rest, &RecvContext::new(cfg), &mut Budget::new(budget), &mut actions).expect("recv");
            for e in actions.emits.drain(..) {
                frames.push(match e {
                    Emit::Input(r) => rest[r].to_vec(),
                    Emit::Owned(v) => v,
                    Emit::Fragment(f) => f.to_vec(),
                });
            }
            rest = &rest[used..];
            if rest.is_empty() {
                break;
            }
        }
        // frames of a re-emitted message the budget left owed
        while ch.has_pending() {
            actions.clear();
            ch.flush(&mut Budget::new(budget), &mut actions);
            frames.extend(actions.emits.drain(..).filter_map(|e| match e {
                Emit::Owned(v) => Some(v),
                Emit::Fragment(f) => Some(f.to_vec()),
                Emit::Input(_) => None,
            }));
        }
    }
    frames
}

/// A small deterministic PRNG (xorshift64*), so failures replay.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The flags a term's encoding must make the scanner report (the test
/// oracle for `TermFlags`, shared by the property and OTP-oracle tests).
pub fn flags_of(t: &Term) -> TermFlags {
    let mut f = TermFlags::default();
    let mut todo = vec![t];
    while let Some(t) = todo.pop() {
        match t {
            Term::Export { .. } => f.has_export = true,
            Term::Fun(fun) => {
                f.has_new_fun = true;
                todo.extend(&fun.free);
            }
            Term::Tuple(items) => todo.extend(items),
            Term::List(items, tail) => {
                todo.extend(items);
                todo.push(tail);
            }
            Term::Map(pairs) => {
                for (k, v) in pairs {
                    todo.push(k);
                    todo.push(v);
                }
            }
            Term::Record(r) => todo.extend(r.fields.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    f
}
