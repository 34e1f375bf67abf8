//! Round trips of both schemes, the checks that must refuse, and requests signed by an
//! independent implementation (Node's crypto, captured once) that must verify.

use super::*;

fn at(rfc3339_secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(rfc3339_secs)
}

const NOW: u64 = 1795478400;

fn signed(scheme: Scheme, key: &PrivateKey, body: Option<&[u8]>) -> HeaderMap {
    let url = url::Url::parse("https://ferrodon.example/users/alice/inbox").unwrap();
    let mut headers = HeaderMap::new();
    sign(scheme, key, "https://remote.example/users/r#main-key", &Method::POST, &url, &mut headers, body, at(NOW))
        .unwrap();
    headers
}

fn incoming<'a>(headers: &'a HeaderMap, body: Option<&'a [u8]>) -> Incoming<'a> {
    Incoming {
        method: &Method::POST,
        path_and_query: "/users/alice/inbox",
        target_uri: "https://ferrodon.example/users/alice/inbox",
        headers,
        body,
    }
}

#[test]
fn both_schemes_round_trip() {
    let key = PrivateKey::generate().unwrap();
    let public = PublicKey::from_pem(&key.public_key_pem()).unwrap();
    let again = PrivateKey::from_pem(&key.to_pem()).unwrap();
    assert_eq!(again.public_key_pem(), key.public_key_pem());
    for scheme in [Scheme::Cavage, Scheme::Rfc9421] {
        for body in [Some(&b"{}"[..]), None] {
            let headers = signed(scheme, &key, body);
            let sig = parse(&incoming(&headers, body), at(NOW + 60)).unwrap();
            assert_eq!(sig.scheme, scheme);
            assert_eq!(sig.key_id, "https://remote.example/users/r#main-key");
            sig.verify(&public).unwrap();
        }
    }
}

#[test]
fn tampering_is_refused() {
    let key = PrivateKey::generate().unwrap();
    let public = PublicKey::from_pem(&key.public_key_pem()).unwrap();
    let other = PublicKey::from_pem(&PrivateKey::generate().unwrap().public_key_pem()).unwrap();
    for scheme in [Scheme::Cavage, Scheme::Rfc9421] {
        let headers = signed(scheme, &key, Some(b"original"));
        // Another body.
        assert_eq!(parse(&incoming(&headers, Some(b"changed")), at(NOW)).unwrap_err(), SignatureError::DigestMismatch);
        // Another key.
        let sig = parse(&incoming(&headers, Some(b"original")), at(NOW)).unwrap();
        assert_eq!(sig.verify(&other), Err(SignatureError::InvalidSignature));
        // Another path.
        let moved = Incoming {
            path_and_query: "/inbox",
            target_uri: "https://ferrodon.example/inbox",
            ..incoming(&headers, Some(b"original"))
        };
        assert_eq!(parse(&moved, at(NOW)).unwrap().verify(&public), Err(SignatureError::InvalidSignature));
        // A changed Date.
        let mut redated = headers.clone();
        redated.insert("date", HeaderValue::from_static("Wed, 25 Nov 2026 00:00:00 GMT"));
        let res = parse(&incoming(&redated, Some(b"original")), at(NOW + 86_400));
        assert!(res.is_err() || res.unwrap().verify(&public).is_err());
        // Too old, or from too far in the future.
        assert_eq!(
            parse(&incoming(&headers, Some(b"original")), at(NOW + 13 * 3600)).unwrap_err(),
            SignatureError::Expired
        );
        assert_eq!(
            parse(&incoming(&headers, Some(b"original")), at(NOW - 2 * 3600)).unwrap_err(),
            SignatureError::Expired
        );
    }
}

#[test]
fn required_parts_must_be_signed() {
    let key = PrivateKey::generate().unwrap();
    assert_eq!(parse(&incoming(&HeaderMap::new(), None), at(NOW)).unwrap_err(), SignatureError::Missing);
    // A GET signature replayed as a POST with a body: no digest covered.
    let headers = signed(Scheme::Cavage, &key, None);
    assert!(matches!(parse(&incoming(&headers, Some(b"x")), at(NOW)), Err(SignatureError::MissingComponent(_))));
    let headers = signed(Scheme::Rfc9421, &key, None);
    assert!(matches!(parse(&incoming(&headers, Some(b"x")), at(NOW)), Err(SignatureError::MissingComponent(_))));
    // Host not covered.
    let mut headers = HeaderMap::new();
    headers.insert("date", HeaderValue::from_static("Tue, 24 Nov 2026 00:00:00 GMT"));
    headers.insert(
        "signature",
        HeaderValue::from_static(
            r#"keyId="k",algorithm="rsa-sha256",headers="(request-target) date",signature="AAAA""#,
        ),
    );
    assert_eq!(parse(&incoming(&headers, None), at(NOW)).unwrap_err(), SignatureError::MissingComponent("host".into()));
    // Unknown algorithm.
    headers.insert(
        "signature",
        HeaderValue::from_static(
            r#"keyId="k",algorithm="ecdsa-sha512",headers="(request-target) host date",signature="AAAA""#,
        ),
    );
    assert!(matches!(parse(&incoming(&headers, None), at(NOW)), Err(SignatureError::UnsupportedAlgorithm(_))));
}

/// Signed by Node's `crypto.sign("sha256", …)` with a key made there, as other servers sign.
const NODE_KEY: &str = r#"-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2cmvW7clWwE4C0peUMdf
JVhZowIF4xZ93xYlLKc40Vnd7Dt3LhhI2ecwoNPlusdvluOAWea8saQBayy89Yg0
W3rHAJC51Vt9yBHpf96GCEM1v577t6xzGmxbsT9PJ9agwBjgd/sRp8xDPwWivoIt
w6CqRLKqhIvaIm2pkVHVkqltn2Ba5mSurQugMQsE2EA8xBdwLeNlaWvYcn9b6apA
0ITLlKjXmiwbfxXY/AJ2UoogIa14jpCV0mv48PhoqPvMmgmc64d+lELbehy1ekv1
N23mDBY/tYTFD21SJ5xgaSfS2tYBKDmxRleskF5dphZygSAtoySP7A7eceM7EKfm
SQIDAQAB
-----END PUBLIC KEY-----
"#;
const NODE_BODY: &str = r#"{"type":"Follow","actor":"https://node.example/users/n"}"#;

#[test]
fn requests_signed_elsewhere_verify() {
    let key = PublicKey::from_pem(NODE_KEY).unwrap();
    let body = NODE_BODY.as_bytes();
    let mut cavage = HeaderMap::new();
    cavage.insert("host", HeaderValue::from_static("ferrodon.example"));
    cavage.insert("date", HeaderValue::from_static("Tue, 24 Nov 2026 00:00:00 GMT"));
    cavage.insert("digest", HeaderValue::from_static("SHA-256=hVbIsPfvu1moTpn4i7me6ffGXbYh8GEDoisozTx2fJI="));
    cavage.insert("signature", HeaderValue::from_static(r#"keyId="https://node.example/users/n#main-key",algorithm="hs2019",headers="(request-target) host date digest",signature="ZTuNl90GxNIZ8PPEfcEX3d647txOqQAeXRRffNa8VY457ot3v07K4DOtU2sPDkxqXqnLF49X/A00iay9LxTdzkvGfJ0hKI7mk9NVcMnJtxFu/IhTWA+nxTflsqCB7qopTulfnknIOZBr+IbsyaW/dWGXFTBac5CyN9VXV/51OuFah3OiJP3FvpV+eI588jjJ0mXdsMDnek5u2l16BiuamtSQFVKwjTJTaSXaVS7ENHGmUOLZcwAhBIACMCBP5n9SQVCs8Vb1jeKJL7ICwsJ/S8KB8VSdRcNyKwM1AVD+B3P0/rxLg3XpGtxOqEgnpjlHQ3DNsVAyVfKzH4NK8BVdyw==""#));
    let sig = parse(&incoming(&cavage, Some(body)), at(NOW)).unwrap();
    assert_eq!(sig.scheme, Scheme::Cavage);
    sig.verify(&key).unwrap();

    let mut rfc = HeaderMap::new();
    rfc.insert("host", HeaderValue::from_static("ferrodon.example"));
    rfc.insert("date", HeaderValue::from_static("Tue, 24 Nov 2026 00:00:00 GMT"));
    rfc.insert("content-digest", HeaderValue::from_static("sha-256=:hVbIsPfvu1moTpn4i7me6ffGXbYh8GEDoisozTx2fJI=:"));
    rfc.insert("signature-input", HeaderValue::from_static(r#"sig1=("@method" "@target-uri" "@authority" "host" "date" "content-digest");alg="rsa-v1_5-sha256";keyid="https://node.example/users/n#main-key";created=1795478400"#));
    rfc.insert("signature", HeaderValue::from_static("sig1=:1GNYlVVTILDNFHBGYbhhEyicR4cHIWuVQCqpJysd5v3NBYO93PYj/bamM2GZTEAEI6Kb9kBAw/0Dz5oKsMkcu6dRWlk1CzhjyegXPBZ0w+sqSBuVLNjd3iLBFjctnlpMT+Y7mm83E2ynUh3maCXGD/2QcOC9diosBiidawzPpAe4ZP2ofXZYA3+wr649jECMxKWcxinJ0n1ApXX+ppHxcdqOLxhWXJnZ8nI/UGIgn35wRhT1DSre8IF9ResMR1kKczlCMv7VsA8NfRMwvrkmA6kMjSLbySmBYpt3iX3Q3fNcdw3y38WGEBhSmsexkSVEcit/NgYjURAVJaoS2MzQ8g==:"));
    let sig = parse(&incoming(&rfc, Some(body)), at(NOW)).unwrap();
    assert_eq!(sig.scheme, Scheme::Rfc9421);
    assert_eq!(sig.key_id, "https://node.example/users/n#main-key");
    sig.verify(&key).unwrap();
}
