//! Sends to protected pids (issue 16): judged as sends to the process's
//! name (or, unnamed, always redirected); other incarnations, other nodes
//! and unprotected pids keep the fast path.

mod common;

use std::sync::Arc;

use common::frames::{frame_normal, prefixed};
use common::{feed, Corpus};
use erldist_filter_core::Peer;
use erldist_filter_core::{Atom, Channel, Config, Protected};

fn atom(text: &str) -> Atom {
    Atom::from_utf8(text.as_bytes()).expect("atom")
}

fn pid(node: &str, id: u32, serial: u32, creation: u32) -> Vec<u8> {
    let mut out = vec![88, 119, node.len() as u8];
    out.extend_from_slice(node.as_bytes());
    for n in [id, serial, creation] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    out
}

/// SEND_SENDER {22, From, To} with the atom `hello` as payload, framed.
fn send_sender(to: &[u8]) -> Vec<u8> {
    let mut control = vec![104, 3, 97, 22];
    control.extend(pid("a@h", 1, 0, 3));
    control.extend_from_slice(to);
    prefixed(4, &frame_normal(&[], &control, &[119, 5, b'h', b'e', b'l', b'l', b'o']))
}

fn config(otp_name_blocklist: bool) -> Config {
    Config { deep_packet_inspection: true, redirect_dist_operations: true, otp_name_blocklist, ..Config::default() }
}

/// Whether the channel delivers `packet` unchanged (the safe policy's switches).
fn unchanged(ch: &mut Channel, packet: &[u8]) -> bool {
    unchanged_with(ch, packet, &config(true))
}

fn unchanged_with(ch: &mut Channel, packet: &[u8], cfg: &Config) -> bool {
    let out = feed(ch, cfg, &[packet], u64::MAX);
    out.len() == 1 && out[0] == packet[4..]
}

#[test]
fn sends_to_protected_pids_leave_the_fast_path() {
    let mut set = Protected::new(atom("b@h"), 7);
    set.insert(5, 0, Some(atom("rex")));
    set.insert(6, 0, None);
    set.insert(8, 0, Some(atom("my_server")));
    let peer = Peer { sysname: atom("a@h"), router: atom("erldist_filter_router_1"), ..Peer::default() };
    let mut ch = Channel::new(Corpus::load("small").options()).with_peer(peer);
    ch.set_protected(Arc::new(set));
    // rex by pid: the rex rule (only its features exchange stays fast).
    assert!(!unchanged(&mut ch, &send_sender(&pid("b@h", 5, 0, 7))));
    // an unnamed protected process: always the policy's
    assert!(!unchanged(&mut ch, &send_sender(&pid("b@h", 6, 0, 7))));
    // a user's registered process with a harmless payload: fast, as by name
    assert!(unchanged(&mut ch, &send_sender(&pid("b@h", 8, 0, 7))));
    // another incarnation, another node, an unprotected pid: fast
    assert!(unchanged(&mut ch, &send_sender(&pid("b@h", 5, 0, 8))));
    assert!(unchanged(&mut ch, &send_sender(&pid("c@h", 5, 0, 7))));
    assert!(unchanged(&mut ch, &send_sender(&pid("b@h", 9, 0, 7))));
    // without the OTP name blocklist an unnamed one gets the payload rules only
    assert!(unchanged_with(&mut ch, &send_sender(&pid("b@h", 6, 0, 7)), &config(false)));
    // rex's own rule holds with or without it, as for a REG_SEND
    assert!(!unchanged_with(&mut ch, &send_sender(&pid("b@h", 5, 0, 7)), &config(false)));
}

fn small_atom(text: &str) -> Vec<u8> {
    let mut out = vec![119, text.len() as u8];
    out.extend_from_slice(text.as_bytes());
    out
}

/// REG_SEND {6, From, '', ToName} with `payload`, framed.
fn reg_send(to_name: &str, payload: &[u8]) -> Vec<u8> {
    let mut control = vec![104, 4, 97, 6];
    control.extend(pid("a@h", 1, 0, 3));
    control.extend(small_atom(""));
    control.extend(small_atom(to_name));
    prefixed(4, &frame_normal(&[], &control, payload))
}

/// A harmless payload: the atom `hello`.
fn hello() -> Vec<u8> {
    small_atom("hello")
}

#[test]
fn bounded_names_always_reach_the_policy() {
    let peer = Peer { sysname: atom("a@h"), router: atom("erldist_filter_router_1"), ..Peer::default() };
    let mut ch = Channel::new(Corpus::load("small").options()).with_peer(peer);
    let mut set = Protected::new(atom("b@h"), 7);
    set.insert(5, 0, Some(atom("pg")));
    ch.set_protected(Arc::new(set));
    // pg by name and by pid: the policy's, with the OTP name blocklist on
    assert!(!unchanged(&mut ch, &reg_send("pg", &hello())));
    assert!(!unchanged(&mut ch, &send_sender(&pid("b@h", 5, 0, 7))));
    // off, only the payload rules: fast
    assert!(unchanged_with(&mut ch, &reg_send("pg", &hello()), &config(false)));
    // other names that start alike: fast
    assert!(unchanged(&mut ch, &reg_send("pg2", &hello())));
    assert!(unchanged(&mut ch, &reg_send("p", &hello())));
}

/// A reference of `node` (NEWER_REFERENCE_EXT, three ids).
fn reference(node: &str) -> Vec<u8> {
    let mut out = vec![90, 0, 3];
    out.extend(small_atom(node));
    for n in [7u32, 1, 2, 3] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    out
}

/// ALIAS_SEND {33, From, Alias} with `payload`, framed.
fn alias_send(payload: &[u8]) -> Vec<u8> {
    let mut control = vec![104, 3, 97, 33];
    control.extend(pid("a@h", 1, 0, 3));
    control.extend(reference("b@h"));
    prefixed(4, &frame_normal(&[], &control, payload))
}

/// A tuple of the given encoded elements.
fn tuple(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![104, elements.len() as u8];
    for e in elements {
        out.extend_from_slice(e);
    }
    out
}

#[test]
fn gen_requests_to_aliases_reach_the_policy() {
    let peer = Peer { sysname: atom("a@h"), router: atom("erldist_filter_router_1"), ..Peer::default() };
    let mut ch = Channel::new(Corpus::load("small").options()).with_peer(peer);
    let cast = tuple(&[small_atom("$gen_cast"), hello()]);
    let call = tuple(&[small_atom("$gen_call"), tuple(&[pid("a@h", 1, 0, 3), reference("a@h")]), hello()]);
    let reply = tuple(&[reference("b@h"), hello()]);
    // gen's reply tag [alias | Ref]: a list of one atom with the reference as its tail
    let alias_reply = tuple(&[[vec![108, 0, 0, 0, 1], small_atom("alias"), reference("b@h")].concat(), hello()]);
    // requests: the policy's, with the OTP name blocklist on
    assert!(!unchanged(&mut ch, &alias_send(&cast)));
    assert!(!unchanged(&mut ch, &alias_send(&call)));
    // off, only the payload rules: fast
    assert!(unchanged_with(&mut ch, &alias_send(&cast), &config(false)));
    // replies and other messages: fast
    assert!(unchanged(&mut ch, &alias_send(&reply)));
    assert!(unchanged(&mut ch, &alias_send(&alias_reply)));
    assert!(unchanged(&mut ch, &alias_send(&hello())));
    assert!(unchanged(&mut ch, &alias_send(&tuple(&[small_atom("$gen_cast"), hello(), hello()]))));
}
