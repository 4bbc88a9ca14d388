%%% Test certificates for TLS distribution, made fresh by each run (never
%%% committed): a CA, node certificates it signs (subject `CN=<name>,
%%% O=edf test'; alternative names `127.0.0.1', `::1' and `localhost' as
%%% DNS names and addresses, so that the hostname checks against loopback
%%% peers pass), written as PEM files, and the `-ssl_dist_optfile' for a
%%% node (mutual TLS: both sides verify the peer against the CA and insist
%%% on a certificate).
-module(edf_test_tls).

-include_lib("public_key/include/public_key.hrl").

-export([ca/2]).
-export([node_optfile/3]).

-type ca() :: #{name := string(), cert := public_key:der_encoded(), key := term(),
                dir := file:filename()}.
-export_type([ca/0]).

%% @doc A new CA called `Name', its certificate written to `Dir'.
-spec ca(file:filename(), string()) -> ca().
ca(Dir, Name) ->
    ok = filelib:ensure_path(Dir),
    #{cert := Cert, key := Key} =
        public_key:pkix_test_root_cert(Name, [{key, {namedCurve, ?secp256r1}},
                                              {digest, sha256}]),
    ok = write_pem(ca_file(Dir, Name), [{'Certificate', Cert, not_encrypted}]),
    #{name => Name, cert => Cert, key => Key, dir => Dir}.

%% @doc Issue a certificate with subject `CN=CommonName' from `Ca', write
%% it with its key, and return the path of an optfile using them.
-spec node_optfile(ca(), string(), file:filename()) -> file:filename().
node_optfile(Ca = #{name := CaName, dir := CaDir}, CommonName, Dir) ->
    ok = filelib:ensure_path(Dir),
    {Cert, Key} = issue(Ca, CommonName),
    Base = filename:join(Dir, CommonName),
    CertFile = Base ++ ".crt",
    KeyFile = Base ++ ".key",
    ok = write_pem(CertFile, [{'Certificate', Cert, not_encrypted}]),
    ok = write_pem(KeyFile, [public_key:pem_entry_encode('ECPrivateKey', Key)]),
    Common = [{certfile, CertFile}, {keyfile, KeyFile},
              {cacertfile, ca_file(CaDir, CaName)}, {verify, verify_peer},
              {secure_renegotiate, true}],
    Opts = [{server, [{fail_if_no_peer_cert, true} | Common]}, {client, Common}],
    OptFile = Base ++ ".optfile",
    ok = file:write_file(OptFile, io_lib:format("~p.~n", [Opts])),
    OptFile.

ca_file(Dir, Name) ->
    filename:join(Dir, Name ++ "-ca.crt").

write_pem(File, Entries) ->
    file:write_file(File, public_key:pem_encode(Entries)).

issue(#{cert := CaCert, key := CaKey}, CommonName) ->
    #'OTPCertificate'{tbsCertificate = #'OTPTBSCertificate'{subject = Issuer}} =
        public_key:pkix_decode_cert(CaCert, otp),
    Key = #'ECPrivateKey'{publicKey = Public} =
        public_key:generate_key({namedCurve, ?secp256r1}),
    Today = calendar:date_to_gregorian_days(date()),
    Tbs = #'OTPTBSCertificate'{
             version = v3,
             serialNumber = erlang:unique_integer([positive]),
             signature = #'SignatureAlgorithm'{algorithm = ?'ecdsa-with-SHA256',
                                               parameters = asn1_NOVALUE},
             issuer = Issuer,
             validity = #'Validity'{notBefore = utc_time(Today - 1),
                                    notAfter = utc_time(Today + 30)},
             subject = {rdnSequence,
                        [[#'AttributeTypeAndValue'{type = ?'id-at-commonName',
                                                   value = {utf8String,
                                                            list_to_binary(CommonName)}}],
                         [#'AttributeTypeAndValue'{type = ?'id-at-organizationName',
                                                   value = {utf8String, <<"edf test">>}}]]},
             subjectPublicKeyInfo =
                 #'OTPSubjectPublicKeyInfo'{
                    algorithm = #'PublicKeyAlgorithm'{
                                   algorithm = ?'id-ecPublicKey',
                                   parameters = {namedCurve, ?secp256r1}},
                    subjectPublicKey = #'ECPoint'{point = Public}},
             issuerUniqueID = asn1_NOVALUE,
             subjectUniqueID = asn1_NOVALUE,
             extensions =
                 [#'Extension'{extnID = ?'id-ce-subjectAltName', critical = false,
                               extnValue = [{dNSName, "localhost"},
                                            %% what the client checks: the host part
                                            %% of the node name, sent as SNI
                                            {dNSName, "127.0.0.1"}, {dNSName, "::1"},
                                            {iPAddress, <<127, 0, 0, 1>>},
                                            {iPAddress, <<0:120, 1>>}]},
                  #'Extension'{extnID = ?'id-ce-basicConstraints', critical = true,
                               extnValue = #'BasicConstraints'{cA = false}},
                  #'Extension'{extnID = ?'id-ce-keyUsage', critical = true,
                               extnValue = [digitalSignature, keyAgreement]},
                  #'Extension'{extnID = ?'id-ce-extKeyUsage', critical = false,
                               extnValue = [?'id-kp-serverAuth', ?'id-kp-clientAuth']}]},
    {public_key:pkix_sign(Tbs, CaKey), Key}.

utc_time(Days) ->
    {Y, M, D} = calendar:gregorian_days_to_date(Days),
    {utcTime, lists:flatten(io_lib:format("~2..0w~2..0w~2..0w000000Z", [Y rem 100, M, D]))}.
