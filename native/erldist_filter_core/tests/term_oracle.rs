//! OTP as the oracle: an Erlang module (compiled and run here with `erlc`
//! and `erl`) writes `term_to_binary/2` of a fixed, varied set of terms in
//! three encodings (OTP 25's default, `minor_version` 0 with `FLOAT_EXT`,
//! `minor_version` 2 with UTF-8 atoms), each with a structural description
//! computed by Erlang from the term itself. We decode each binary, describe
//! our `Term` the same way and compare; the scanner must end at the end of
//! the binary with the flags the term implies, and the view must agree on
//! the top-level shape. Fails when `erl` is not on PATH, unless
//! `EDF_NO_ERL=1` says to skip it.

mod common;

use common::flags_of;
use std::path::PathBuf;
use std::process::Command;

use erldist_filter_core::term::{decode, skip_term, NoAtoms, ScanContext, Term, View, Viewer};
use erldist_filter_core::ErrorKind;

const ORACLE_ERL: &str = r##"
-module(term_oracle).
-export([main/1]).

main(Out) ->
    Cases = [{T, Opts} || T <- terms(), Opts <- [[], [{minor_version, 0}], [{minor_version, 2}]]],
    Lines = [[hex(term_to_binary(T, Opts)), $\t, desc(T), $\n] || {T, Opts} <- Cases],
    Compressed = term_to_binary(lists:duplicate(200, abc), [compressed]),
    Release = term_to_binary(list_to_integer(erlang:system_info(otp_release))),
    ok = file:write_file(Out, [Lines, hex(Compressed), "\t!unsupported\n", hex(Release), "\t!otp_release\n"]).

terms() ->
    Latin1Node = list_to_atom([$n, 16#F8, $d, 16#E9, $@, $h]),
    Pid1 = mk_pid('other@host', 5, 3, 7),
    Pid2 = mk_pid(Latin1Node, 32767, 8191, 16#12345678),
    Port1 = mk_port('other@host', 77, 2),
    Port2 = mk_port64('other@host', 16#123456789, 16#ABCDEF01),
    Ref1 = mk_ref('other@host', 9, [1, 2, 3]),
    Ref2 = mk_ref(Latin1Node, 16#FFFFFFFF, [16#FFFFFFFF, 0, 42, 7, 8]),
    Deep = lists:foldl(fun(_, A) -> {A} end, leaf, lists:seq(1, 500)),
    BigMap = maps:from_list([{I, {I, integer_to_list(I)}} || I <- lists:seq(1, 40)]),
    [ok, '', 'hé', list_to_atom([16#3A9, $m, $e, $g, $a]), list_to_atom(lists:duplicate(255, $a)),
     list_to_atom(lists:duplicate(255, 16#E9)), list_to_atom(lists:duplicate(255, 16#1D11E)),
     0, 255, 256, -1, 2147483647, -2147483648, 2147483648, 1 bsl 62, -(1 bsl 63), (1 bsl 63) - 1,
     1 bsl 63, 1 bsl 64, -(1 bsl 64) - 5, 1 bsl 2100, -(1 bsl 3000) + 12345,
     0.0, 3.14, -1.0e300, 5.0e-324, 1.7976931348623157e308, -2.5,
     Pid1, Pid2, Port1, Port2, Ref1, Ref2,
     {}, {a, 1}, list_to_tuple(lists:seq(1, 300)),
     [], [1, 2, 3], "hello", [a, b | c], [1 | 2], [[]], lists:seq(1, 300),
     lists:duplicate(70000, $x), [1.5, "x" | <<"tail">>],
     <<>>, <<1, 2, 3>>, <<1, 2:3>>, <<7:1>>, binary:copy(<<"0123456789">>, 100),
     #{}, #{a => 1, <<"k">> => [1, 2], {t} => #{}}, BigMap,
     fun lists:map/2, fun erlang:'+'/2, closure(42, <<"env">>), closure([Pid1], Port1), no_env(),
     {ok, [#{key => {1, "two", 3.0}}], [fun lists:map/2 | closure(x, y)], {Pid1, Ref1}},
     Deep].

closure(X, Y) -> fun(A) -> {A, X, Y} end.
no_env() -> fun() -> ok end.

atom_ext(A) -> B = atom_to_binary(A, utf8), <<119, (byte_size(B)), B/binary>>.
node_hex(N) -> hex(atom_to_binary(N, utf8)).

mk_pid(N, I, S, C) ->
    P = binary_to_term(<<131, 88, (atom_ext(N))/binary, I:32, S:32, C:32>>),
    put({desc, P}, ["p", node_hex(N), ".", int(I), ".", int(S), ".", int(C)]),
    P.
mk_port(N, I, C) ->
    P = binary_to_term(<<131, 89, (atom_ext(N))/binary, I:32, C:32>>),
    put({desc, P}, ["o", node_hex(N), ".", int(I), ".", int(C)]),
    P.
mk_port64(N, I, C) ->
    P = binary_to_term(<<131, 120, (atom_ext(N))/binary, I:64, C:32>>),
    put({desc, P}, ["o", node_hex(N), ".", int(I), ".", int(C)]),
    P.
mk_ref(N, C, Ids) ->
    R = binary_to_term(<<131, 90, (length(Ids)):16, (atom_ext(N))/binary, C:32,
                         << <<I:32>> || I <- Ids >>/binary>>),
    put({desc, R}, ["r", node_hex(N), ".", int(C), [[".", int(I)] || I <- Ids]]),
    R.

int(I) -> integer_to_list(I).
hex(B) -> [io_lib:format("~2.16.0B", [X]) || <<X>> <= B].
join([]) -> [];
join([H | T]) -> [H, [[",", X] || X <- T]].

desc(I) when is_integer(I) -> ["i", integer_to_list(I, 16)];
desc(F) when is_float(F) -> <<B:64>> = <<F:64/float>>, ["f", integer_to_list(B, 16)];
desc(A) when is_atom(A) -> ["a", hex(atom_to_binary(A, utf8))];
desc(T) when is_tuple(T) -> ["{", join([desc(E) || E <- tuple_to_list(T)]), "}"];
desc([]) -> "[]";
desc(L) when is_list(L) -> desc_list(L, []);
desc(B) when is_binary(B) -> ["b", hex(B)];
desc(B) when is_bitstring(B) ->
    Bits = bit_size(B) rem 8,
    ["b", hex(<<B/bitstring, 0:(8 - Bits)>>), "/", int(Bits)];
desc(M) when is_map(M) ->
    Pairs = [iolist_to_binary([desc(K), "=>", desc(V)]) || {K, V} <- maps:to_list(M)],
    ["#{", join(lists:sort(Pairs)), "}"];
desc(F) when is_function(F) ->
    {module, M} = erlang:fun_info(F, module),
    {arity, A} = erlang:fun_info(F, arity),
    case erlang:fun_info(F, type) of
        {type, external} ->
            {name, Name} = erlang:fun_info(F, name),
            ["E", hex(atom_to_binary(M, utf8)), ":", hex(atom_to_binary(Name, utf8)), "/", int(A)];
        {type, local} ->
            {new_index, NI} = erlang:fun_info(F, new_index),
            {new_uniq, NU} = erlang:fun_info(F, new_uniq),
            {index, OI} = erlang:fun_info(F, index),
            {uniq, OU} = erlang:fun_info(F, uniq),
            {env, Env} = erlang:fun_info(F, env),
            ["F", hex(atom_to_binary(M, utf8)), "/", int(A), "/", int(NI), "/", hex(NU), "/",
             int(OI), "/", integer_to_list(OU band 16#FFFFFFFF, 16),
             "(", join([desc(E) || E <- Env]), ")"]
    end;
desc(X) -> get({desc, X}).

desc_list([H | T], Acc) -> desc_list(T, [desc(H) | Acc]);
desc_list([], Acc) -> ["[", join(lists:reverse(Acc)), "]"];
desc_list(Tail, Acc) -> ["[", join(lists:reverse(Acc)), "|", desc(Tail), "]"].
"##;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The same description the Erlang side writes.
fn desc(t: &Term) -> String {
    match t {
        Term::Atom(a) | Term::CacheRef { atom: a, .. } => format!("a{}", hex(a.as_bytes())),
        Term::Int(i) if *i < 0 => format!("i-{:X}", i.unsigned_abs()),
        Term::Int(i) => format!("i{i:X}"),
        Term::BigInt { negative, magnitude } => {
            let digits: String = magnitude.iter().rev().map(|b| format!("{b:02X}")).collect();
            let digits = digits.trim_start_matches('0');
            match (digits.is_empty(), negative) {
                (true, _) => "i0".to_owned(),
                (false, true) => format!("i-{digits}"),
                (false, false) => format!("i{digits}"),
            }
        }
        Term::Float(f) => format!("f{:X}", f.to_bits()),
        Term::Tuple(items) => format!("{{{}}}", join(items.iter().map(desc))),
        Term::Nil => "[]".to_owned(),
        Term::String(_) | Term::List(..) => {
            let mut items = Vec::new();
            let mut cur = t;
            let tail = loop {
                match cur {
                    Term::String(s) => {
                        items.extend(s.iter().map(|&b| desc(&Term::Int(i64::from(b)))));
                        break None;
                    }
                    Term::List(elems, tail) => {
                        items.extend(elems.iter().map(desc));
                        cur = tail;
                    }
                    Term::Nil => break None,
                    other => break Some(desc(other)),
                }
            };
            match tail {
                None if items.is_empty() => "[]".to_owned(),
                None => format!("[{}]", items.join(",")),
                Some(tail) => format!("[{}|{tail}]", items.join(",")),
            }
        }
        Term::Binary(b) => format!("b{}", hex(b)),
        Term::BitBinary(b, bits) if *bits == 8 || b.is_empty() => format!("b{}", hex(b)),
        Term::BitBinary(b, bits) => format!("b{}/{bits}", hex(b)),
        Term::Map(pairs) => {
            let mut p: Vec<String> = pairs.iter().map(|(k, v)| format!("{}=>{}", desc(k), desc(v))).collect();
            p.sort();
            format!("#{{{}}}", p.join(","))
        }
        Term::Pid(p) => format!("p{}.{}.{}.{}", hex(p.node.as_bytes()), p.id, p.serial, p.creation),
        Term::Port(p) => format!("o{}.{}.{}", hex(p.node.as_bytes()), p.id, p.creation),
        Term::Ref(r) => {
            let ids: String = r.ids.iter().map(|i| format!(".{i}")).collect();
            format!("r{}.{}{ids}", hex(r.node.as_bytes()), r.creation)
        }
        Term::Export { module, function, arity } => {
            format!("E{}:{}/{arity}", hex(module.as_bytes()), hex(function.as_bytes()))
        }
        Term::Fun(f) => format!(
            "F{}/{}/{}/{}/{}/{:X}({})",
            hex(f.module.as_bytes()),
            f.arity,
            f.index,
            hex(&f.uniq),
            f.old_index,
            f.old_uniq as u32,
            join(f.free.iter().map(desc))
        ),
        Term::Record(_) => "!record".to_owned(),
    }
}

fn join(it: impl Iterator<Item = String>) -> String {
    it.collect::<Vec<_>>().join(",")
}

fn erl_available() -> bool {
    Command::new("erl").args(["-noshell", "-eval", "halt()."]).output().is_ok_and(|o| o.status.success())
}

/// Run the Erlang side; returns the lines it wrote.
fn oracle_lines() -> Vec<(Vec<u8>, String)> {
    let dir: PathBuf = std::env::temp_dir().join(format!("term_oracle_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("term_oracle.erl");
    std::fs::write(&src, ORACLE_ERL).unwrap();
    let out = Command::new("erlc").arg("-o").arg(&dir).arg(&src).output().unwrap();
    assert!(out.status.success(), "erlc: {}", String::from_utf8_lossy(&out.stdout));
    let data = dir.join("out.txt");
    let eval = format!("term_oracle:main(\"{}\"), halt().", data.display());
    let out = Command::new("erl").arg("-noshell").arg("-pa").arg(&dir).arg("-eval").arg(eval).output().unwrap();
    assert!(
        out.status.success(),
        "erl: {} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&data).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    text.lines()
        .map(|l| {
            let (h, d) = l.split_once('\t').unwrap();
            (unhex(h), d.to_owned())
        })
        .collect()
}

#[test]
fn otp_term_to_binary_decodes_to_the_same_structure() {
    if !erl_available() {
        // A missing oracle must not look like a pass.
        assert!(
            std::env::var("EDF_NO_ERL").is_ok_and(|v| v == "1"),
            "term_oracle needs `erl` and `erlc` on PATH (set EDF_NO_ERL=1 to skip it on purpose)"
        );
        println!("skipping term_oracle: `erl` is not on PATH and EDF_NO_ERL=1");
        return;
    }
    let lines = oracle_lines();
    // `desc` above recurses, with large debug-build frames: give it room
    // for the 500-deep term.
    std::thread::Builder::new().stack_size(64 << 20).spawn(move || check_lines(&lines)).unwrap().join().unwrap();
}

fn check_lines(lines: &[(Vec<u8>, String)]) {
    assert!(lines.len() > 150, "the oracle wrote {} lines", lines.len());
    let ctx = ScanContext::external();
    let mut tags_seen = std::collections::BTreeSet::new();
    let mut otp_release = None;
    for (bin, want) in lines {
        assert_eq!(bin.first(), Some(&131), "version byte");
        let body = &bin[1..];
        if want == "!otp_release" {
            otp_release = match decode(body, &mut 0, &ctx, &NoAtoms) {
                Ok(Term::Int(rel)) => Some(rel),
                other => panic!("otp_release line: {other:?}"),
            };
            continue;
        }
        if want == "!unsupported" {
            let mut pos = 0;
            assert_eq!(skip_term(body, &mut pos, &ctx).unwrap_err().kind, ErrorKind::UnsupportedTag);
            let mut pos = 0;
            assert_eq!(decode(body, &mut pos, &ctx, &NoAtoms).unwrap_err().kind, ErrorKind::UnsupportedTag);
            continue;
        }
        let mut pos = 0;
        let term =
            decode(body, &mut pos, &ctx, &NoAtoms).unwrap_or_else(|e| panic!("decode {want}: {e:?} in {}", hex(bin)));
        assert_eq!(pos, body.len(), "decoder end for {want}");
        assert_eq!(&desc(&term), want, "structure of {}", hex(bin));

        let mut pos = 0;
        let flags = skip_term(body, &mut pos, &ctx).unwrap();
        assert_eq!(pos, body.len(), "scanner end for {want}");
        assert_eq!(flags, flags_of(&term), "flags for {want}");

        let view = Viewer::new(body, ctx, &NoAtoms).view(0).unwrap();
        let same_shape = match (&term, view) {
            (Term::Tuple(items), View::Tuple { arity, .. }) => items.len() == arity as usize,
            (Term::Atom(a), View::Atom(r)) => r.eq_str(a.as_str()),
            (Term::Int(i), View::Int(j)) => *i == j,
            (Term::Float(f), View::Float(g)) => f.to_bits() == g.to_bits(),
            (Term::BigInt { .. }, View::BigInt { .. })
            | (Term::Nil, View::Nil)
            | (Term::String(_), View::String(_))
            | (Term::List(..), View::List { .. })
            | (Term::Binary(_), View::Binary(_))
            | (Term::BitBinary(..), View::BitBinary { .. })
            | (Term::Map(_), View::Map { .. })
            | (Term::Pid(_), View::Pid(_))
            | (Term::Port(_), View::Port(_))
            | (Term::Ref(_), View::Ref(_))
            | (Term::Fun(_), View::Fun(_))
            | (Term::Export { .. }, View::Export { .. }) => true,
            _ => false,
        };
        assert!(same_shape, "view {view:?} of {want}");
        tags_seen.insert(body[0]);
    }
    // The set exercised the tags this OTP writes: every port is a
    // V4_PORT_EXT (120) from OTP 26 on, NEW_PORT_EXT (89) before.
    let otp_release = otp_release.expect("the oracle wrote its OTP release");
    let port_tags: &[u8] = if otp_release >= 26 { &[120] } else { &[89, 120] };
    for &t in [70u8, 77, 88, 90, 97, 98, 99, 100, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 116, 118, 119]
        .iter()
        .chain(port_tags)
    {
        assert!(tags_seen.contains(&t), "no top-level term with tag {t} (OTP {otp_release})");
    }
}
