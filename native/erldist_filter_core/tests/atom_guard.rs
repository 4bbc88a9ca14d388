//! The atom-table guard: new atoms from a peer (atom-cache writes and
//! inline atoms) count against a per-node budget; over it a message is
//! dropped or the connection closed, before anything carrying the atom is
//! emitted.
//!
//! The "VM" here is a set of atom texts: frames the channel emits are
//! delivered to it after each call (their atoms are created), as the
//! carrier does with `erlang:dist_ctrl_put_data/2`.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::frames::{frame_frag_cont, frame_frag_header, frame_normal, Ref, DFLAGS};
use erldist_filter_core::flags;
use erldist_filter_core::AtomExistence;
use erldist_filter_core::Policy;
use erldist_filter_core::{
    Actions, Budget, Channel, ChannelOptions, Config, Emit, Error, ErrorKind, Limits, PacketSize, RecvContext,
};

/// The node's atom table, as far as the tests need it.
#[derive(Default)]
struct Vm {
    atoms: RefCell<HashSet<Vec<u8>>>,
    asked: Cell<u64>,
}

impl AtomExistence for Vm {
    fn exists(&self, text: &[u8], utf8: bool) -> bool {
        self.asked.set(self.asked.get() + 1);
        assert!(utf8 || text.is_ascii(), "tests use ASCII Latin-1 atoms only");
        self.atoms.borrow().contains(text)
    }
}

impl Vm {
    fn with(atoms: &[&[u8]]) -> Vm {
        let vm = Vm::default();
        vm.atoms.borrow_mut().extend(atoms.iter().map(|a| a.to_vec()));
        vm
    }

    /// Create the atoms named in `frame` (its text appears verbatim).
    fn deliver(&self, frame: &[u8], candidates: &[Vec<u8>]) {
        for c in candidates {
            if contains(frame, c) {
                self.atoms.borrow_mut().insert(c.clone());
            }
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn limits(budget: u64, policy: Policy) -> Limits {
    Limits { max_new_atoms: budget, atom_policy: policy, ..Limits::default() }
}

fn channel(l: Limits) -> Channel {
    Channel::new(ChannelOptions { packet_size: PacketSize::Zero, dflags: DFLAGS, limits: l })
}

/// Feed whole frames, one call each, delivering what is emitted to `vm`.
/// Returns the emitted frames, or the first error.
fn feed(ch: &mut Channel, vm: &Vm, frames: &[Vec<u8>], cfg: &Config, names: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, Error> {
    let mut out = vec![];
    for f in frames {
        let mut actions = Actions::default();
        ch.recv(f, &RecvContext::new(cfg).checking_atoms(vm), &mut Budget::new(u64::MAX), &mut actions)?;
        for e in actions.emits {
            let bytes = match e {
                Emit::Input(r) => f[r].to_vec(),
                Emit::Owned(v) => v,
                Emit::Fragment(f) => f.to_vec(),
            };
            vm.deliver(&bytes, names);
            out.push(bytes);
        }
    }
    Ok(out)
}

/// SMALL_ATOM_UTF8_EXT.
fn atom(text: &[u8]) -> Vec<u8> {
    let mut a = vec![119, text.len() as u8];
    a.extend_from_slice(text);
    a
}

/// `{SEND=2, '', To}` with `To` a pid on header reference 0.
fn send_control() -> Vec<u8> {
    let mut c = vec![104, 3, 97, 2, 82, 1];
    c.extend([88, 82, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7]);
    c
}

/// Header refs for [`send_control`]: the node and ''.
fn send_refs() -> [Ref<'static>; 2] {
    [Ref::New(0, b"a@127.0.0.1"), Ref::New(1, b"")]
}

/// A payload list of inline atoms.
fn atom_list(names: &[Vec<u8>]) -> Vec<u8> {
    let mut p = vec![108];
    p.extend_from_slice(&(names.len() as u32).to_be_bytes());
    for n in names {
        p.extend(atom(n));
    }
    p.push(106);
    p
}

fn names(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("{prefix}_{i}").into_bytes()).collect()
}

const KNOWN: [&[u8]; 2] = [b"a@127.0.0.1", b""];

#[test]
fn inline_atoms_count_once_and_a_message_over_budget_is_dropped_whole() {
    let vm = Vm::with(&KNOWN);
    let mut ch = channel(limits(5, Policy::Drop));
    let all = names("fresh", 6);
    // 3 new atoms, one of them three times: counts 3.
    let first = atom_list(&[all[0].clone(), all[1].clone(), all[0].clone(), all[2].clone(), all[0].clone()]);
    // 3 more would make 6 > 5: dropped, nothing of it reaches the VM.
    let second = atom_list(&all[3..6]);
    let frames =
        vec![frame_normal(&send_refs(), &send_control(), &first), frame_normal(&send_refs(), &send_control(), &second)];
    let out = feed(&mut ch, &vm, &frames, &Config::default(), &all).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0], frames[0]);
    assert!(all[3..].iter().all(|n| !contains(&out[1], n)), "the dropped message's atoms were emitted");
    let s = ch.stats().snapshot();
    assert_eq!((s.new_atom_count, s.atom_drop_count, s.limit_hits), (3, 1, 1));
    assert_eq!(vm.atoms.borrow().len(), KNOWN.len() + 3);
    // Atoms that now exist cost nothing: the first message again passes.
    let again = feed(&mut ch, &vm, &frames[..1], &Config::default(), &all).unwrap();
    assert_eq!(again, frames[..1].to_vec());
    assert_eq!(ch.stats().snapshot().new_atom_count, 3);
}

#[test]
fn under_close_a_message_over_budget_closes_the_connection() {
    let vm = Vm::with(&KNOWN);
    let mut ch = channel(limits(2, Policy::Close));
    let frames = vec![frame_normal(&send_refs(), &send_control(), &atom_list(&names("x", 3)))];
    let e = feed(&mut ch, &vm, &frames, &Config::default(), &names("x", 3)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitNewAtoms);
    assert_eq!(ch.stats().snapshot().limit_hits, 1);
    assert_eq!(vm.atoms.borrow().len(), KNOWN.len());
}

#[test]
fn atom_cache_writes_count_and_over_budget_close_whatever_the_policy() {
    let vm = Vm::with(&KNOWN);
    let mut ch = channel(limits(3, Policy::Drop));
    let slot_names = names("cached", 4);
    let frames: Vec<Vec<u8>> = slot_names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            // {SEND, '', Pid} with a new atom written into slot 10+i and unused.
            let refs = [Ref::New(0, b"a@127.0.0.1"), Ref::New(1, b""), Ref::New(10 + i as u16, n)];
            frame_normal(&refs, &send_control(), &[97, 1])
        })
        .collect();
    let e = feed(&mut ch, &vm, &frames, &Config::default(), &slot_names).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitNewAtoms);
    let s = ch.stats().snapshot();
    assert_eq!((s.new_atom_count, s.limit_hits), (3, 1));
    assert!(!vm.atoms.borrow().contains(&slot_names[3]));
}

#[test]
fn atoms_inside_pids_and_funs_count_too() {
    let vm = Vm::with(&KNOWN);
    let mut ch = channel(limits(1, Policy::Drop));
    // A payload pid whose node name is a new inline atom.
    let mut pid = vec![88];
    pid.extend(atom(b"evil@nowhere"));
    pid.extend([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    let export = [&[113][..], &atom(b"evil_mod"), &atom(b"evil_fun"), &[97, 0]].concat();
    // A closure (NEW_FUN_EXT) whose module is new, no free variables.
    let mut fun_body = vec![0u8];
    fun_body.extend([0u8; 16]);
    fun_body.extend([0, 0, 0, 0, 0, 0, 0, 0]);
    fun_body.extend(atom(b"evil_closure_mod"));
    fun_body.extend([97, 0, 97, 0, 88]);
    fun_body.extend(atom(b"a@127.0.0.1"));
    fun_body.extend([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    let size = (fun_body.len() + 4) as u32;
    let fun = [&[112][..], &size.to_be_bytes(), &fun_body].concat();
    let payload = [&[104, 3][..], &pid, &export, &fun].concat();
    let frames = vec![frame_normal(&send_refs(), &send_control(), &payload)];
    let all = vec![b"evil@nowhere".to_vec(), b"evil_mod".to_vec(), b"evil_fun".to_vec(), b"evil_closure_mod".to_vec()];
    let out = feed(&mut ch, &vm, &frames, &Config::default(), &all).unwrap();
    assert!(all.iter().all(|n| !contains(&out[0], n)));
    assert_eq!(ch.stats().snapshot().atom_drop_count, 1);
    // With room for all four, the closure's module is what makes the fourth.
    let mut roomy = channel(limits(4, Policy::Drop));
    let vm = Vm::with(&KNOWN);
    assert_eq!(feed(&mut roomy, &vm, &frames, &Config::default(), &all).unwrap(), frames);
    assert_eq!(roomy.stats().snapshot().new_atom_count, 4);
}

#[test]
fn the_tally_is_shared_by_the_channels_of_one_node() {
    let vm = Vm::with(&KNOWN);
    let tally = Arc::new(AtomicU64::new(0));
    let all = names("node", 4);
    let frame = |n: &[Vec<u8>]| vec![frame_normal(&send_refs(), &send_control(), &atom_list(n))];
    let mut first = channel(limits(3, Policy::Drop)).with_atom_tally(Arc::clone(&tally));
    feed(&mut first, &vm, &frame(&all[..2]), &Config::default(), &all).unwrap();
    drop(first);
    // A reconnect starts from what the node already spent.
    let mut second = channel(limits(3, Policy::Drop)).with_atom_tally(Arc::clone(&tally));
    feed(&mut second, &vm, &frame(&all[2..4]), &Config::default(), &all).unwrap();
    assert_eq!(tally.load(Ordering::Relaxed), 2);
    assert_eq!(second.stats().snapshot().atom_drop_count, 1);
}

#[test]
fn under_drop_a_fragmented_message_is_held_until_its_atoms_are_checked() {
    let vm = Vm::with(&KNOWN);
    let mut ch = channel(limits(2, Policy::Drop));
    let all = names("frag", 3);
    let payload = atom_list(&all);
    let (head, tail) = payload.split_at(payload.len() / 2);
    let frames = vec![frame_frag_header(7, 2, &send_refs(), &send_control(), head), frame_frag_cont(7, 1, tail)];
    // Under `drop`, a message over the budget must be dropped whole, so
    // its fragments cannot pass before the last is checked.
    let out = feed(&mut ch, &vm, &frames, &Config::default(), &all).unwrap();
    assert!(out.iter().all(|f| all.iter().all(|n| !contains(f, n))));
    assert_eq!(ch.stats().snapshot().atom_drop_count, 1);
    assert_eq!(ch.open_sequences(), 0);
}

/// A payload of inline atoms cut into three fragments at `a` and `b`.
fn three_fragments(seq: u64, payload: &[u8], a: usize, b: usize) -> Vec<Vec<u8>> {
    vec![
        frame_frag_header(seq, 3, &send_refs(), &send_control(), &payload[..a]),
        frame_frag_cont(seq, 2, &payload[a..b]),
        frame_frag_cont(seq, 1, &payload[b..]),
    ]
}

#[test]
fn under_close_a_fragmented_message_streams_and_its_atoms_count_as_they_pass() {
    let vm = Vm::with(&KNOWN);
    let mut ch = channel(limits(4, Policy::Close));
    let all = names("stream", 4);
    // Four new atoms, two of them again in a later fragment; the cuts fall
    // inside an atom's text and inside an atom's head.
    let payload = atom_list(&[all[0].clone(), all[1].clone(), all[2].clone(), all[0].clone(), all[3].clone()]);
    let second = 5 + atom(&all[0]).len();
    let fourth = second + atom(&all[1]).len() + atom(&all[2]).len();
    let frames = three_fragments(9, &payload, second + 4, fourth + 1);
    // One call per fragment, nothing delivered to the VM (it creates a
    // message's atoms only when it has all of it): each fragment passes
    // unchanged as it arrives.
    for (i, f) in frames.iter().enumerate() {
        let out = feed(&mut ch, &vm, std::slice::from_ref(f), &Config::default(), &[]).unwrap();
        assert_eq!(out, vec![f.clone()], "fragment {i} was not passed on at once");
    }
    let s = ch.stats().snapshot();
    assert_eq!((s.new_atom_count, s.limit_hits), (4, 0));
    assert_eq!(ch.open_sequences(), 0);
    // The same with deep packet inspection on: decided from the first
    // fragment (a list payload is not, so a binary here) and kept (a
    // registered send to `sink`, a new atom written inline in its control).
    let vm = Vm::with(&KNOWN);
    let mut ch = channel(limits(4, Policy::Close));
    let refs = send_refs();
    let mut reg_send = vec![104, 4, 97, 6];
    reg_send.extend(common::frames::pid(0, 1));
    reg_send.extend([82, 1]);
    reg_send.extend(atom(b"sink"));
    let bin = [&[109, 0, 0, 0, 40][..], &[7; 40]].concat();
    let frames = vec![
        frame_frag_header(10, 3, &refs, &reg_send, &bin[..8]),
        frame_frag_cont(10, 2, &bin[8..20]),
        frame_frag_cont(10, 1, &bin[20..]),
    ];
    let dpi = Config { deep_packet_inspection: true, ..Config::default() };
    for f in &frames {
        assert_eq!(feed(&mut ch, &vm, std::slice::from_ref(f), &dpi, &[]).unwrap(), vec![f.clone()]);
    }
    assert_eq!(ch.stats().snapshot().new_atom_count, 1);
}

#[test]
fn under_close_the_fragment_over_budget_closes_before_it_reaches_the_vm() {
    let vm = Vm::with(&KNOWN);
    let mut ch = channel(limits(2, Policy::Close));
    let all = names("over", 3);
    let payload = atom_list(&all);
    let last = payload.len() - 1 - atom(&all[2]).len();
    let frames = three_fragments(11, &payload, 8, last + 2);
    let passed = feed(&mut ch, &vm, &frames[..2], &Config::default(), &[]).unwrap();
    assert_eq!(passed, frames[..2].to_vec());
    let e = feed(&mut ch, &vm, &frames[2..], &Config::default(), &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitNewAtoms);
    assert_eq!(ch.stats().snapshot().new_atom_count, 2);
}

#[test]
fn a_malformed_streamed_payload_closes_at_the_fragment_that_shows_it() {
    let vm = Vm::with(&KNOWN);
    let mut ch = channel(limits(10, Policy::Close));
    // A list of one atom whose tail is cut off by the last fragment.
    let payload = [&[108, 0, 0, 0, 1][..], &atom(b"cut")].concat();
    let frames = three_fragments(12, &payload, 2, 6);
    assert_eq!(feed(&mut ch, &vm, &frames[..2], &Config::default(), &[]).unwrap(), frames[..2].to_vec());
    let e = feed(&mut ch, &vm, &frames[2..], &Config::default(), &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Truncated);
}

#[test]
fn pass_through_frames_are_checked() {
    let vm = Vm::with(&[b"a@127.0.0.1", b"", b"known"]);
    let l = limits(1, Policy::Drop);
    let mut ch = Channel::new(ChannelOptions {
        packet_size: PacketSize::Zero,
        dflags: DFLAGS & !(flags::DIST_HDR_ATOM_CACHE | flags::FRAGMENTS),
        limits: l,
    });
    // 'p' {SEND, '', To} with To = known, then a payload of two new atoms.
    let control = [&[131, 104, 3, 97, 2][..], &atom(b""), &atom(b"known")].concat();
    let payload = [&[131][..], &atom_list(&names("pt", 2))].concat();
    let frame = [&[b'p'][..], &control, &payload].concat();
    let out = feed(&mut ch, &vm, &[frame], &Config::default(), &names("pt", 2)).unwrap();
    assert!(out.is_empty(), "a dropped pass-through message emits nothing");
    assert_eq!(ch.stats().snapshot().atom_drop_count, 1);
}

#[test]
fn with_no_budget_the_guard_is_off_and_asks_nothing() {
    let vm = Vm::with(&KNOWN);
    let mut ch = channel(limits(0, Policy::Drop));
    let frames = vec![frame_normal(&send_refs(), &send_control(), &atom_list(&names("free", 50)))];
    let out = feed(&mut ch, &vm, &frames, &Config::default(), &[]).unwrap();
    assert_eq!(out, frames);
    assert_eq!(vm.asked.get(), 0);
}

/// Ten peers, each within its own budget of 50, together meet the
/// node-wide budget of 120: what they make the node create never exceeds
/// it, whether their atoms travel inline (dropped over it) or in the
/// atom cache (the connection closes), and a new peer gets nothing more.
#[test]
fn many_peers_together_stay_within_the_node_wide_budget() {
    let vm = Vm::with(&KNOWN);
    let all_tally = Arc::new(AtomicU64::new(0));
    let budget = Limits { max_new_atoms: 50, max_new_atoms_total: 120, atom_policy: Policy::Drop, ..Limits::default() };
    let mut created = 0usize;
    let mut stopped = 0;
    for peer in 0..10 {
        let node_tally = Arc::new(AtomicU64::new(0));
        let mut ch = channel(budget).with_atom_tallies(Arc::clone(&node_tally), Arc::clone(&all_tally));
        let texts = names(&format!("peer{peer}_"), 60);
        // inline: ten messages of six new atoms each
        let frames: Vec<Vec<u8>> =
            texts.chunks(6).map(|n| frame_normal(&send_refs(), &send_control(), &atom_list(n))).collect();
        feed(&mut ch, &vm, &frames, &Config::default(), &texts).unwrap();
        assert!(node_tally.load(Ordering::Relaxed) <= 50, "peer {peer} over its own budget");
        // in the atom cache: one new atom per header, until refused
        let cached = names(&format!("cache{peer}_"), 20);
        let mut ch = channel(budget).with_atom_tallies(Arc::clone(&node_tally), Arc::clone(&all_tally));
        let mut frames = vec![];
        for (i, t) in cached.iter().enumerate() {
            let refs = [Ref::New(1, b"a@127.0.0.1"), Ref::New(2, b""), Ref::New(3 + i as u16, t)];
            frames.push(frame_normal(&refs, &send_control(), &[97, 1]));
        }
        match feed(&mut ch, &vm, &frames, &Config::default(), &cached) {
            Ok(_) => {}
            Err(e) => {
                assert!(matches!(e.kind, ErrorKind::LimitNewAtoms | ErrorKind::LimitNewAtomsTotal), "{e}");
                stopped += 1;
            }
        }
        let now = vm.atoms.borrow().len() - KNOWN.len();
        assert!(now <= 120, "after peer {peer} the node created {now} atoms");
        assert_eq!(now as u64, all_tally.load(Ordering::Relaxed));
        created = now;
    }
    assert_eq!(created, 120, "the peers used the node-wide budget");
    assert!(stopped >= 8, "peers were refused at the node-wide budget");
}
