//! The ID token's checks (OpenID Connect Core 1.0, section 3.1.3.7): an RS256 signature by a
//! key of the provider's JWKS, then issuer, audience (and `azp`), expiry, issue time and nonce.
//! Pure: the keys and the time are given.

use base64::Engine as _;
use serde_json::{Map, Value};

/// How far the provider's clock may be from ours.
pub const LEEWAY_SECS: i64 = 60;

/// Why an ID token was refused: a reason fit for the log (it names no one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub &'static str);

/// An RSA public key of the provider (a JWK with `kty` "RSA").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    pub kid: Option<String>,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

/// The RSA signing keys of a JWKS document; other keys (EC, encryption keys) are skipped.
pub fn keys_of(jwks: &Value) -> Vec<RsaKey> {
    let decode = |v: &Value| v.as_str().and_then(|s| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok());
    jwks["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter(|k| k["kty"] == "RSA" && k["use"].as_str().is_none_or(|u| u == "sig"))
                .filter_map(|k| Some(RsaKey { kid: k["kid"].as_str().map(str::to_string), n: decode(&k["n"])?, e: decode(&k["e"])? }))
                .collect()
        })
        .unwrap_or_default()
}

/// A token split into its signed part, header, claims and signature.
pub struct Parsed<'a> {
    pub signed: &'a str,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub signature: Vec<u8>,
}

pub fn parse(token: &str) -> Result<Parsed<'_>, Refusal> {
    let not_jwt = Refusal("the ID token is not a JWT");
    let (signed, signature) = token.rsplit_once('.').ok_or(not_jwt.clone())?;
    let (header, claims) = signed.split_once('.').ok_or(not_jwt.clone())?;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).map_err(|_| not_jwt.clone());
    let json = |s: &str| -> Result<Map<String, Value>, Refusal> { serde_json::from_slice(&b64(s)?).map_err(|_| not_jwt.clone()) };
    Ok(Parsed { signed, header: json(header)?, claims: json(claims)?, signature: b64(signature)? })
}

impl Parsed<'_> {
    /// The key id the token names, if any.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// Whether one of `keys` (those with the token's `kid`, or all when it names none) signed it
    /// with RS256. Any other algorithm ("none", HS256 with the public key) is refused.
    pub fn signed_by(&self, keys: &[RsaKey]) -> Result<(), Refusal> {
        if self.header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(Refusal("the ID token is not signed with RS256"));
        }
        let kid = self.kid();
        let verified = keys.iter().filter(|k| kid.is_none() || k.kid.as_deref() == kid).any(|k| {
            ring::signature::RsaPublicKeyComponents { n: &k.n, e: &k.e }
                .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, self.signed.as_bytes(), &self.signature)
                .is_ok()
        });
        if verified {
            Ok(())
        } else {
            Err(Refusal("the ID token's signature does not verify with the provider's keys"))
        }
    }
}

/// What the claims must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    /// Another spelling of the issuer the provider uses (Google: `accounts.google.com`).
    pub issuer_alias: Option<&'a str>,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// Google's Workspace domain (`hd`), when one is configured.
    pub hosted_domain: Option<&'a str>,
    /// Unix seconds.
    pub now: i64,
}

/// Checks the claims of a token whose signature was verified.
pub fn check_claims(claims: &Map<String, Value>, want: &Expected<'_>) -> Result<(), Refusal> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    let iss = text("iss").map(|i| i.trim_end_matches('/'));
    if iss != Some(want.issuer) && (iss.is_none() || iss != want.issuer_alias) {
        return Err(Refusal("the ID token is from another issuer"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&want.client_id) {
        return Err(Refusal("the ID token is for another application (aud)"));
    }
    // Several audiences: the one it was given to must be us (section 3.1.3.7, items 4 and 5).
    if (audiences.len() > 1 || claims.contains_key("azp")) && text("azp") != Some(want.client_id) {
        return Err(Refusal("the ID token was given to another application (azp)"));
    }
    match number("exp") {
        Some(exp) if exp + LEEWAY_SECS > want.now => {}
        _ => return Err(Refusal("the ID token has expired")),
    }
    if number("iat").is_none_or(|iat| iat > want.now + LEEWAY_SECS) || number("nbf").is_some_and(|nbf| nbf > want.now + LEEWAY_SECS) {
        return Err(Refusal("the ID token is not valid yet"));
    }
    if want.nonce.is_empty() || text("nonce") != Some(want.nonce) {
        return Err(Refusal("the ID token's nonce is not the one of this sign-in"));
    }
    if let Some(hd) = want.hosted_domain {
        if !text("hd").is_some_and(|h| h.eq_ignore_ascii_case(hd)) {
            return Err(Refusal("the account is not of the configured Google Workspace domain (hd)"));
        }
    }
    Ok(())
}

/// The value of `claim`; an address the provider says it did not verify counts as absent.
pub fn claim_value(claims: &Map<String, Value>, claim: &str) -> Option<String> {
    if claim == "email" && claims.get("email_verified").is_some_and(|v| v == &Value::Bool(false) || v == "false") {
        return None;
    }
    claims.get(claim).and_then(Value::as_str).map(str::to_string).filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    const NOW: i64 = 1_800_000_000;

    fn want<'a>() -> Expected<'a> {
        Expected { issuer: "https://idp.example/t", issuer_alias: None, client_id: "app", nonce: "n1", hosted_domain: None, now: NOW }
    }

    fn good() -> Value {
        json!({"iss": "https://idp.example/t", "aud": "app", "exp": NOW + 300, "iat": NOW - 5, "nonce": "n1", "sub": "s", "email": "a@x.nl"})
    }

    fn refused(change: impl FnOnce(&mut Value)) -> Option<&'static str> {
        let mut c = good();
        change(&mut c);
        check_claims(&claims(c), &want()).err().map(|r| r.0)
    }

    #[test]
    fn a_good_token_passes_and_each_wrong_claim_is_refused() {
        assert_eq!(refused(|_| {}), None);
        assert_eq!(refused(|c| c["iss"] = json!("https://idp.example/t/")), None, "a trailing slash is the same issuer");
        assert!(refused(|c| c["iss"] = json!("https://evil.example/t")).unwrap().contains("issuer"));
        assert!(refused(|c| c["aud"] = json!("other")).unwrap().contains("aud"));
        assert!(refused(|c| c["aud"] = json!(["other", "app"])).unwrap().contains("azp"), "several audiences need azp");
        assert_eq!(
            refused(|c| {
                c["aud"] = json!(["other", "app"]);
                c["azp"] = json!("app")
            }),
            None
        );
        assert!(refused(|c| c["exp"] = json!(NOW - LEEWAY_SECS - 1)).unwrap().contains("expired"));
        assert_eq!(refused(|c| c["exp"] = json!(NOW - 10)), None, "within the leeway");
        assert!(refused(|c| c["iat"] = json!(NOW + 3600)).unwrap().contains("not valid yet"));
        assert!(refused(|c| c["nonce"] = json!("n2")).unwrap().contains("nonce"));
        assert!(refused(|c| c.as_object_mut().unwrap().remove("nonce").map(drop).unwrap_or(())).unwrap().contains("nonce"));
        let google = Expected { issuer_alias: Some("idp.example/t"), ..want() };
        let mut c = good();
        c["iss"] = json!("idp.example/t");
        assert!(check_claims(&claims(c.clone()), &want()).is_err());
        assert!(check_claims(&claims(c), &google).is_ok(), "Google's other spelling of its issuer");
        let hd = Expected { hosted_domain: Some("x.nl"), ..want() };
        assert!(check_claims(&claims(good()), &hd).is_err());
        let mut c = good();
        c["hd"] = json!("X.nl");
        assert!(check_claims(&claims(c), &hd).is_ok());
    }

    #[test]
    fn only_rs256_with_a_published_key_is_accepted() {
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!("{}.{}.{}", b64(json!({"alg": "none"})), b64(good()), "");
        let parsed = parse(&token).unwrap();
        assert!(parsed.signed_by(&[]).unwrap_err().0.contains("RS256"));
        let token = format!("{}.{}.{}", b64(json!({"alg": "RS256", "kid": "k1"})), b64(good()), "AAAA");
        let key = RsaKey { kid: Some("k1".into()), n: vec![1; 256], e: vec![1, 0, 1] };
        assert!(parse(&token).unwrap().signed_by(&[key]).unwrap_err().0.contains("signature"));
        assert!(parse("a.b").is_err() && parse("!!.e30.").is_err());
    }

    #[test]
    fn jwks_keys_are_read_and_foreign_ones_skipped() {
        let jwks = json!({"keys": [
            {"kty": "RSA", "kid": "a", "use": "sig", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "b", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "c", "crv": "P-256", "x": "AQAB", "y": "AQAB"}
        ]});
        let keys = keys_of(&jwks);
        assert_eq!(keys.len(), 1);
        assert_eq!((keys[0].kid.as_deref(), keys[0].e.as_slice()), (Some("a"), &[1u8, 0, 1][..]));
    }

    #[test]
    fn an_unverified_address_does_not_count() {
        let mut c = good();
        assert_eq!(claim_value(&claims(c.clone()), "email").as_deref(), Some("a@x.nl"));
        c["email_verified"] = json!(false);
        assert_eq!(claim_value(&claims(c.clone()), "email"), None);
        assert_eq!(claim_value(&claims(c), "oid"), None);
    }
}
